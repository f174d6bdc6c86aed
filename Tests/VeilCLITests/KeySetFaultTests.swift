import Foundation
import Testing

/// crash-contract.md §4: a data directory belongs to one key set. Another deployment's `master.key`
/// or audit key is refused, naming the file, before anything is written; with the right keys back,
/// the data subject's events and vault row are still there to erase. On the real binary.
@Suite(.serialized) struct KeySetFaultTests {
    /// `count` events of one user, event IDs `prefix-0`, `prefix-1`, ….
    static func events(of user: String, count: Int, prefix: String) -> Data {
        Data(
            (0..<count).map { index in
                #"{"event_id":"\#(prefix)-\#(index)","user_id":"\#(user)","type":"view","timestamp":"2026-01-05T10:00:00Z","category":"books"}"#
                    + "\n"
            }.joined().utf8)
    }

    /// Replaces `file`'s bytes with `bytes`, keeping its mode (a key file must stay 0600).
    static func overwrite(_ file: URL, with bytes: Data) throws {
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    /// Issue 11's scenario: 53 events of a user, then another deployment's `master.key` copied in.
    /// Ingesting 3 more events of the same user, serving and spending are refused naming
    /// `master.key`; nothing is stored under the foreign key's pseudonyms. With the right key back,
    /// `veil erase` deletes all 53 events and the vault row.
    @Test func aForeignMasterKeyIsRefusedAndTheSubjectStaysErasable() throws {
        let installation = try VeilInstallation()
        let user = "raw-user-\(UUID().uuidString)"
        let first = try installation.json(["ingest", try installation.file("first.ndjson", Self.events(of: user, count: 53, prefix: "a")).path])
        #expect((first as? [String: Any])?["accepted"] as? Int == 53)

        let other = try VeilInstallation()
        let masterKey = installation.keysDirectory.appendingPathComponent("master.key")
        let own = try Data(contentsOf: masterKey)
        try Self.overwrite(masterKey, with: try Data(contentsOf: other.keysDirectory.appendingPathComponent("master.key")))
        let log = try Data(contentsOf: installation.auditLogFile)

        let more = try installation.file("more.ndjson", Self.events(of: user, count: 3, prefix: "b"))
        for command in [["ingest", more.path], ["query", "--metric", "count_events", "--epsilon", "0.1"]] {
            let result = try installation.run(command)
            #expect(result.status != 0, "veil \(command[0]) ran under another deployment's master key")
            #expect(result.stderr.contains("master.key"), "\(result.stderr)")
        }
        if let server = try? installation.serve(log: "serve.log") {
            server.stop()
            Issue.record("veil serve started under another deployment's master key")
        }
        #expect(try DataDirectoryReport.eventIDs(in: installation.databaseFile).count == 53)
        #expect(try Data(contentsOf: installation.auditLogFile) == log, "a refused command wrote to audit.log")

        try Self.overwrite(masterKey, with: own)
        let erased = try installation.json(["erase", "--user", user]) as? [String: Any]
        #expect(erased?["events_deleted"] as? Int == 53)
        #expect(erased?["vault_rows_deleted"] as? Int == 1)
        #expect(try DataDirectoryReport.eventIDs(in: installation.databaseFile).isEmpty)
        #expect(CrashInvariants.problems(in: installation) == [])
    }

    /// A database lost beside its log while another deployment's `master.key` sits in the key
    /// directory: `veil db recover` must not rebuild the chain and the ledger and bind them to the
    /// foreign key (the chain's `key.init` names the directory's own key set). It is refused naming
    /// `master.key`, with `audit.log` untouched; with the right key it recovers, and the directory
    /// still refuses the foreign key afterwards.
    @Test func recoveryUnderAForeignMasterKeyIsRefused() throws {
        let installation = try VeilInstallation()
        #expect(try installation.run(["query", "--metric", "count_events", "--epsilon", "0.1"]).status == 0)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: installation.databaseFile.path + suffix) }
        let masterKey = installation.keysDirectory.appendingPathComponent("master.key")
        let own = try Data(contentsOf: masterKey)
        let foreign = try Data(contentsOf: try VeilInstallation().keysDirectory.appendingPathComponent("master.key"))
        try Self.overwrite(masterKey, with: foreign)
        let log = try Data(contentsOf: installation.auditLogFile)

        let refused = try installation.run(["db", "recover"])
        #expect(refused.status != 0, "veil db recover rebuilt the directory under another deployment's master key")
        #expect(refused.stderr.contains("master.key"), "\(refused.stderr)")
        #expect(try Data(contentsOf: installation.auditLogFile) == log, "a refused recovery wrote to audit.log")

        try Self.overwrite(masterKey, with: own)
        let recovered = try installation.run(["db", "recover"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(CrashInvariants.problems(in: installation) == [])
        try Self.overwrite(masterKey, with: foreign)
        let afterwards = try installation.run(["budget"])
        #expect(afterwards.status != 0 && afterwards.stderr.contains("master.key"), "\(afterwards.stderr)")
    }

    /// Another deployment's audit key pair in the key directory: every command is refused naming the
    /// audit key file, and `audit.log` is not extended with records the directory's key did not sign.
    @Test func aForeignAuditKeyIsRefused() throws {
        let installation = try VeilInstallation()
        #expect(try installation.run(["query", "--metric", "count_events", "--epsilon", "0.1"]).status == 0)
        let other = try VeilInstallation()
        for name in ["audit.secret", "audit.pub"] {
            try Self.overwrite(
                installation.keysDirectory.appendingPathComponent(name),
                with: try Data(contentsOf: other.keysDirectory.appendingPathComponent(name)))
        }
        let log = try Data(contentsOf: installation.auditLogFile)

        for command in [["query", "--metric", "count_events", "--epsilon", "0.1"], ["budget"]] {
            let result = try installation.run(command)
            #expect(result.status != 0, "veil \(command[0]) ran under another deployment's audit key")
            #expect(result.stderr.contains("audit.secret") || result.stderr.contains("audit.pub"), "\(result.stderr)")
        }
        #expect(try Data(contentsOf: installation.auditLogFile) == log, "a refused command wrote to audit.log")
    }
}
