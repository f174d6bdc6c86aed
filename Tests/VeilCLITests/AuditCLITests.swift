import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilTestSupport

/// `veil audit verify | checkpoint` on the real binary.
@Suite struct AuditCLITests {
    /// A data directory whose log was started by `veil keys init`, and the key directory.
    private static func initialised() throws -> (scratch: URL, keys: String, data: String) {
        let scratch = try VeilProcess.scratchDirectory()
        let created = try VeilProcess.run(["keys", "init", "--dir", "keys", "--data-dir", "data"], in: scratch)
        #expect(created.status == 0, "\(created.stderr)")
        return (scratch, scratch.appendingPathComponent("keys").path, scratch.appendingPathComponent("data").path)
    }

    @Test func checkpointOfAValidLogVerifiesAgainstIt() throws {
        let (scratch, _, _) = try Self.initialised()
        let checkpoint = try VeilProcess.run(["audit", "checkpoint", "--data-dir", "data"], in: scratch)
        #expect(checkpoint.status == 0, "\(checkpoint.stderr)")
        try Data(checkpoint.stdout.utf8).write(to: scratch.appendingPathComponent("cp.json"))
        let verified = try VeilProcess.run(
            ["audit", "verify", "--data-dir", "data", "--checkpoint", "cp.json", "--json"], in: scratch)
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Any]
        #expect(report?["checkpoint_seq"] as? Int == 1)
    }

    /// A record signed with the host's key whose `cumulative_epsilon` is not what its spends compose
    /// to: the chain and signatures hold, the ε recomputation does not. `verify` rejects it, so
    /// `checkpoint` must refuse to vouch for it (docs/audit.md).
    @Test func checkpointRefusesALogWhoseEpsilonDoesNotRecompute() async throws {
        let (scratch, keys, data) = try Self.initialised()
        let ring = try KeyRing.load(directory: keys)
        try await ScratchStores.open(in: data, signingKey: ring.auditSigningKey).audit.record(
            actor: "cli", action: AuditAction.budgetSpend,
            details: [
                "dataset": .string("default"), "mechanism": .object(["mechanism": .string("pure_epsilon"), "epsilon": .double(1)]),
                "epsilon": .double(1), "delta": .double(1e-6), "cumulative_epsilon": .double(0.5),
            ])
        let verified = try VeilProcess.run(["audit", "verify", "--data-dir", "data"], in: scratch)
        #expect(verified.status == 1)
        #expect(verified.stdout.contains("cumulative_epsilon"))

        let checkpoint = try VeilProcess.run(["audit", "checkpoint", "--data-dir", "data"], in: scratch)
        #expect(checkpoint.status != 0)
        #expect(checkpoint.stdout.isEmpty, "signed a checkpoint of a log that fails verification: \(checkpoint.stdout)")
        #expect(checkpoint.stderr.contains("refusing to sign a checkpoint"))
        #expect(checkpoint.stderr.contains("seq 2"))
    }

    /// The chain in the database and its mirror on the real binary: verify reports the ledger and the
    /// mirror; with the database gone, every command refuses (naming `veil db recover`), and recovery
    /// brings back a chain that verifies.
    @Test func aLostDatabaseIsRefusedAndRecoveredFromTheLog() throws {
        let (scratch, _, data) = try Self.initialised()
        let verified = try VeilProcess.run(["audit", "verify", "--data-dir", "data"], in: scratch)
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        #expect(verified.stdout.contains("ledger     0 spend(s)"))
        #expect(verified.stdout.contains("the mirror holds every record"))

        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: data + "/veil.sqlite" + suffix) }
        let refused = try VeilProcess.run(["audit", "checkpoint", "--data-dir", "data"], in: scratch)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("veil db recover") && refused.stderr.contains("audit.log records seq 1"))

        let recovered = try VeilProcess.run(["db", "recover", "--data-dir", "data", "--json"], in: scratch)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(recovered.stdout.utf8)) as? [String: Any]
        #expect(report?["records_adopted"] as? Int == 1)
        let after = try VeilProcess.run(["audit", "verify", "--data-dir", "data", "--json"], in: scratch)
        #expect(after.status == 0, "\(after.stdout)")
        let exported = try VeilProcess.run(["audit", "export", "--data-dir", "data"], in: scratch)
        #expect(exported.stdout == (try String(contentsOfFile: data + "/audit.log", encoding: .utf8)))
    }

    @Test func anAuditorPointedAtNoDataDirectoryIsToldSoAndNothingIsCreated() throws {
        let (scratch, _, _) = try Self.initialised()
        let result = try VeilProcess.run(["audit", "verify", "--data-dir", "elsewhere"], in: scratch)
        #expect(result.status != 0)
        #expect(result.stderr.contains("holds no Veil database"))
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("elsewhere").path))
    }
}
