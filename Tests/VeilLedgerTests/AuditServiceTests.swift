import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
@testable import VeilLedger

/// The audit use cases over a real signed log: verify, verify-then-checkpoint, and the log's start.
@Suite struct AuditServiceTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-audit-service-\(UUID().uuidString)").path
    let keys: KeyRing
    /// 2026-11-23T12:00:00Z
    static let now = Date(timeIntervalSince1970: 1_795_435_200)

    init() throws {
        keys = try KeyRing.initialize(directory: directory + "/keys")
    }

    private var data: String { directory + "/data" }

    private func spend(_ mechanism: PrivacyMechanism, cumulative: Double) throws {
        try AuditLog(dataDirectory: data, signingKey: keys.auditSigningKey).record(
            actor: "trainer-1", action: AuditAction.budgetSpend,
            details: [
                "dataset": .string("shop"), "mechanism": BudgetService.json(mechanism), "epsilon": .double(cumulative),
                "delta": .double(1e-6), "cumulative_epsilon": .double(cumulative),
            ])
    }

    @Test func startLogRecordsKeyInitOnceAndLeavesAnExistingLogAlone() throws {
        #expect(try AuditService.startLog(dataDirectory: data, keys: keys, actor: "cli") == .recorded(seq: 1))
        let before = try AuditLog.contents(path: AuditLog.path(dataDirectory: data))
        #expect(try AuditService.startLog(dataDirectory: data, keys: keys, actor: "cli") == .alreadyStarted)
        #expect(try AuditLog.contents(path: AuditLog.path(dataDirectory: data)) == before)
        let result = try AuditService(dataDirectory: data).verify(publicKey: keys.auditSigningKey.publicKey)
        #expect(result.isValid && result.recordsChecked == 1)
        let text = String(decoding: before, as: UTF8.self)
        #expect(text.contains(#"\"action\":\"key.init\""#))
        #expect(text.contains(Data(keys.escrowPublicKey.bytes).base64EncodedString()))
    }

    @Test func checkpointOfAValidLogNamesItsHeadAndVerifiesAgainstIt() throws {
        _ = try AuditService.startLog(dataDirectory: data, keys: keys, actor: "cli")
        let release = PrivacyMechanism.pureEpsilon(epsilon: 0.5)
        try spend(release, cumulative: RDPAccountant.epsilon(composing: [release], delta: 1e-6).epsilon)
        let audit = AuditService(dataDirectory: data, clock: .fixed(Self.now))
        let checkpoint = try audit.checkpoint(signingKey: keys.auditSigningKey)
        #expect(checkpoint.seq == 2)
        #expect(checkpoint.time == "2026-11-23T12:00:00.000Z")
        #expect(checkpoint.isValid(publicKey: keys.auditSigningKey.publicKey))
        let verified = try audit.verify(publicKey: keys.auditSigningKey.publicKey, checkpoint: checkpoint)
        #expect(verified.isValid)
        #expect(verified.epsilon.performed && verified.epsilon.spendsChecked == 1)
    }

    /// Signed by the host's own key, chained correctly, but the spend claims less ε than its mechanism
    /// costs: `verify` fails it on the recomputation, and `checkpoint` must refuse to vouch for it.
    @Test func checkpointRefusesALogWhoseEpsilonDoesNotRecompute() throws {
        _ = try AuditService.startLog(dataDirectory: data, keys: keys, actor: "cli")
        try spend(.pureEpsilon(epsilon: 1), cumulative: 0.5)
        let audit = AuditService(dataDirectory: data)
        let verified = try audit.verify(publicKey: keys.auditSigningKey.publicKey)
        #expect(verified.failure?.seq == 2)
        let error = try #require(throws: VeilError.self) { try audit.checkpoint(signingKey: keys.auditSigningKey) }
        #expect(error.code == .integrity)
        #expect(error.message.contains("seq 2"))
        #expect(error.message.contains("cumulative_epsilon"))
        #expect(error.message.contains("refusing to sign a checkpoint"))
    }

    @Test func verifyOfAMissingLogIsNotFound() throws {
        let error = try #require(throws: VeilError.self) {
            try AuditService(dataDirectory: data).verify(publicKey: keys.auditSigningKey.publicKey)
        }
        #expect(error.code == .notFound)
    }
}
