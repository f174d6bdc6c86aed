import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto

/// The worked example in docs/audit.md, computed independently with PyNaCl: AuditSigner must seal
/// exactly these bytes (Ed25519 is deterministic) and the verifier must accept them.
@Suite struct AuditKnownAnswerTests {
    static let key = SigningKey(seed: SecretBytes(copying: (0..<32).map { UInt8($0) }))
    static let line = #"{"body":"{\"action\":\"budget.spend\",\"actor\":\"trainer-ci\",\"details\":{\"cumulative_epsilon\":0.5,\"dataset\":\"default\",\"delta\":1e-06,\"epsilon\":0.5,\"mechanism\":{\"epsilon\":0.5,\"mechanism\":\"pure_epsilon\"}},\"seq\":1,\"time\":\"2026-11-23T10:00:00.000Z\"}","hash":"c1773b7fffe6208137d636f9e4e18ea1f0d9881d9a04147d76472b1aebb81d46","sig":"sXB5IAbVr1SQyHaOirHM5rSXXxBSaJYUDK28aDuRiroPMEA+SF0bJoc9zo9KbB6QAcWRDkmyS2OFpPGM7F9ABA=="}"#
    static let checkpoint = AuditCheckpoint(
        seq: 1, hash: "c1773b7fffe6208137d636f9e4e18ea1f0d9881d9a04147d76472b1aebb81d46", time: "2026-11-23T10:05:00.000Z",
        sig: "JWDt5QbMTSYE2lF4Mv6TUxItTRo2BDP5CVNfa7XOQKe8sREyz78Axn4fa7by2siUeUqH8JclbV/vVIIdVHINCA==")

    @Test func publicKeyMatchesTheDocument() {
        #expect(Data(Self.key.publicKey.bytes).base64EncodedString() == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")
    }

    @Test func logWritesTheDocumentedLine() throws {
        let directory = try ScratchDirectory()
        let time = try Date("2026-11-23T10:00:00Z", strategy: .iso8601)
        let log = try TestLog(path: directory.file("audit.log"), signingKey: Self.key, clock: .fixed(time))
        try log.record(
            actor: "trainer-ci", action: AuditAction.budgetSpend,
            details: [
                "dataset": "default", "mechanism": ["mechanism": "pure_epsilon", "epsilon": 0.5], "epsilon": 0.5,
                "delta": 1e-6, "cumulative_epsilon": 0.5,
            ])
        #expect(try readLines(log.path) == [Self.line])
    }

    @Test func checkpointMatchesTheDocument() throws {
        let head = AuditHead(seq: 1, hash: try #require(Hex.decode(Self.checkpoint.hash)))
        let made = AuditCheckpoint(head: head, time: try Date("2026-11-23T10:05:00Z", strategy: .iso8601), signingKey: Self.key)
        #expect(made == Self.checkpoint)
        let result = AuditVerifier.verify(lines: [Self.line], publicKey: Self.key.publicKey, checkpoint: Self.checkpoint)
        #expect(result.isValid)
        #expect(result.head == head)
    }
}
