import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilTestSupport

/// The committed `scripts/verify_audit.py` (PyNaCl, a second libsodium binding) must accept what
/// `AuditSigner` seals and reject tampering, so the format is verifiable without Veil's code.
@Suite struct PyNaClCrossCheckTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repositoryRoot.appendingPathComponent("scripts/verify_audit.py").path


    /// Fails the test with a clear message unless python3 with PyNaCl is available.
    private func requirePyNaCl() throws {
        let probe = try? runPython(["-c", "import nacl.signing, nacl.hash"])
        try #require(
            probe?.status == 0,
            "python3 with PyNaCl is needed for this cross-check: run scripts/install-deps.sh (or python3 -m pip install pynacl)")
    }

    @Test func pythonVerifierAcceptsTheLogAndRejectsTampering() throws {
        try requirePyNaCl()
        let directory = try ScratchDirectory()
        let key = SigningKey.generate()
        let log = try TestLog(dataDirectory: directory.path, signingKey: key)
        try log.record(actor: "cli", action: .policyLoad, details: ["hash": "ab12", "path": "policies/strict.yaml"])
        try log.record(
            actor: "trainer-token", action: .named("test.note"),
            details: ["note": "ε \"quoted\" \\ slash/ ünïcode 🛒", "epsilon": 0.75, "delta": 1e-6, "cumulative_epsilon": 0.75])
        for index in 0..<5 { try log.record(actor: "cli", action: .named("test.event"), details: ["n": .int(Int64(index))]) }

        // Export, as an auditor would receive it, plus the public key file in Veil's format.
        let exported = directory.file("export.log")
        try Data(try AuditMirror.contents(path: log.path)).write(to: URL(fileURLWithPath: exported))
        let publicKey = directory.file("audit.pub")
        try Data((Data(key.publicKey.bytes).base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: publicKey))
        let checkpointFile = directory.file("checkpoint.json")
        try JSONEncoder().encode(AuditCheckpoint(head: try log.head(), time: Date(), signingKey: key))
            .write(to: URL(fileURLWithPath: checkpointFile))

        let accepted = try runPython([Self.script, exported, publicKey, "--checkpoint", checkpointFile])
        #expect(accepted.status == 0, "verify_audit.py rejected a good log: \(accepted.output)")
        #expect(accepted.output.contains("OK: 7 records"))

        var lines = try readLines(exported)
        lines.remove(at: 3)
        let tampered = directory.file("tampered.log")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: tampered))
        let rejected = try runPython([Self.script, tampered, publicKey])
        #expect(rejected.status == 1)
        #expect(rejected.output.contains("line 4 (seq 5)"), "\(rejected.output)")

        let truncated = directory.file("truncated.log")
        try Data((readLines(exported).prefix(5).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: truncated))
        let rolledBack = try runPython([Self.script, truncated, publicKey, "--checkpoint", checkpointFile])
        #expect(rolledBack.status == 1, "\(rolledBack.output)")
    }
}
