import Foundation
import GRDB
import Testing

/// crash-contract.md §3 and §6, damaged files: a database emptied, deleted, restored from an older
/// copy or truncated mid-page, and an `audit.log` that is torn, behind the store, deleted or altered —
/// each refused or repaired, never a reset budget. On the real binary.
@Suite(.serialized) struct DataDirectoryFaultTests {
    /// A cap of ε = 1, spent in queries of ε = 0.1 (issue 11's scenario).
    static let smallBudget = "budget:\n  total_epsilon: 1\n  max_epsilon_per_request: 1\n"
    static let query = ["query", "--metric", "count_events", "--epsilon", "0.1"]

    enum DatabaseFault: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// `: > veil.sqlite`.
        case emptied
        /// `rm veil.sqlite veil.sqlite-wal veil.sqlite-shm`.
        case deleted
        /// The database files as they were after the first spend, restored over the newer ones.
        case olderCopy

        var testDescription: String {
            switch self {
            case .emptied: ": > veil.sqlite"
            case .deleted: "veil.sqlite deleted"
            case .olderCopy: "an older veil.sqlite restored"
            }
        }
    }

    /// Issue 11's scenario and its kin: ε = 0.1 spent until the cap of 1.0 refuses (10 spends, ε ≈
    /// 0.9948 composed), then the database is emptied, deleted or replaced by an older copy. Every
    /// command that opens the directory is refused, naming both files — 12 more queries: 0 accepted —
    /// and writes nothing; the mirror still verifies on its own; `veil db recover` rebuilds the ledger
    /// from it, with exactly the ε spent before.
    @Test(arguments: DatabaseFault.allCases)
    func aLostOrOlderDatabaseNeverResetsTheBudget(_ fault: DatabaseFault) throws {
        let installation = try VeilInstallation(policy: Self.smallBudget)
        var older: [String: Data] = [:]
        var accepted = 0
        while accepted < 20, try installation.run(Self.query).status == 0 {
            accepted += 1
            if accepted == 1 { older = try Self.databaseFiles(of: installation) }
        }
        let spent = try Self.spentEpsilon(installation)
        #expect(accepted == 10, "ε = 0.1 queries under a cap of 1.0")

        let database = installation.databaseFile.path
        switch fault {
        case .emptied:
            try Data().write(to: installation.databaseFile)
        case .deleted:
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        case .olderCopy:
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
            for (name, bytes) in older { try bytes.write(to: installation.dataDirectory.appendingPathComponent(name)) }
        }
        let log = try Data(contentsOf: installation.auditLogFile)

        let refusal = try Self.refusesTwelveMoreQueries(installation, fault: fault.testDescription, after: accepted, spent: spent)
        #expect(refusal.contains("veil.sqlite") && refusal.contains("audit.log"), "\(refusal)")
        #expect(!refusal.contains("GRDB"), "\(refusal)")
        #expect(try installation.run(["budget", "--json"]).status != 0, "veil budget read a fresh ledger beside the log")
        if let server = try? installation.serve(log: "serve.log") {
            server.stop()
            Issue.record("veil serve started beside a log that records spends its database does not hold")
        }
        #expect(try Data(contentsOf: installation.auditLogFile) == log, "a refused command wrote to audit.log")
        let mirror = try installation.json(["audit", "verify", "--file", installation.auditLogFile.path]) as? [String: Any]
        #expect(mirror?["valid"] as? Bool == true, "the mirror no longer verifies on its own: \(mirror ?? [:])")

        let recovered = try installation.run(["db", "recover"])
        #expect(recovered.status == 0, "veil db recover: \(recovered.stderr)")
        #expect(try abs(Self.spentEpsilon(installation) - spent) < 1e-9, "recovery changed the ε spent")
        #expect(try installation.run(Self.query).status != 0, "a query was accepted past the cap after recovery")
        #expect(CrashInvariants.problems(in: installation) == [])
    }

    /// A database cut off in the middle of a page halfway through the file (a partial copy, a disk
    /// fault; SQLite reads a short last page as zeros, so cutting only the last page may lose nothing):
    /// every command is refused with an error that names `veil.sqlite` and exits (no crash), nothing
    /// is spent, and `audit.log` is left as it was.
    @Test func aDatabaseTruncatedMidPageIsRefused() throws {
        let installation = try VeilInstallation()
        for _ in 0..<3 { try #require(try installation.run(Self.query).status == 0) }
        // Everything into the database file, so the cut removes committed pages.
        var configuration = Configuration()
        configuration.journalMode = .wal
        let queue = try DatabaseQueue(path: installation.databaseFile.path, configuration: configuration)
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try queue.close()
        let pages = KillPoint.size(of: installation.databaseFile) / 16_384
        try #require(pages > 4)
        try #require(truncate(installation.databaseFile.path, off_t(pages / 2 * 16_384 + 8_192)) == 0)
        let log = try Data(contentsOf: installation.auditLogFile)

        for command in [Self.query, ["budget", "--json"]] {
            let result = try installation.run(command)
            #expect(result.status != 0, "veil \(command[0]) ran on a truncated database: \(result.stdout)")
            #expect(result.stderr.contains("veil.sqlite"), "\(result.stderr)")
            #expect(!result.stderr.contains("GRDB"), "\(result.stderr)")
        }
        #expect(try Data(contentsOf: installation.auditLogFile) == log, "a refused command wrote to audit.log")
    }

    enum AuditLogFault: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Half a line after the last newline: a write that crashed before it was synced.
        case tornTail
        /// The file cut at a line boundary two records short (an older copy of the mirror).
        case behindTheStore
        /// `rm audit.log`.
        case deleted

        var testDescription: String {
            switch self {
            case .tornTail: "a torn audit.log tail"
            case .behindTheStore: "audit.log two records short"
            case .deleted: "audit.log deleted"
            }
        }
    }

    /// The mirror is derived from the store: a torn tail is cut off, and a mirror behind the store (or
    /// gone) is brought up to date, at the next open. After one more spend the mirror is the chain,
    /// byte for byte, and the directory passes every crash invariant.
    @Test(arguments: AuditLogFault.allCases)
    func aDamagedMirrorIsRepairedFromTheStore(_ fault: AuditLogFault) throws {
        let installation = try VeilInstallation()
        for _ in 0..<3 { try #require(try installation.run(Self.query).status == 0) }
        let log = try Data(contentsOf: installation.auditLogFile)
        let lineEnds = log.indices.filter { log[$0] == UInt8(ascii: "\n") }
        switch fault {
        case .tornTail:
            let last = log[(lineEnds[lineEnds.count - 2] + 1)...]
            try (log + last.prefix(last.count / 2)).write(to: installation.auditLogFile)
        case .behindTheStore:
            try log.prefix(lineEnds[lineEnds.count - 3] + 1).write(to: installation.auditLogFile)
        case .deleted:
            try FileManager.default.removeItem(at: installation.auditLogFile)
        }

        let spent = try installation.run(Self.query)
        #expect(spent.status == 0, "\(spent.stderr)")
        let repaired = try Data(contentsOf: installation.auditLogFile)
        #expect(repaired.starts(with: log), "the repaired mirror does not hold the records it held before the fault")
        #expect(try installation.run(["audit", "export"]).stdout == String(decoding: repaired, as: UTF8.self))
        #expect(CrashInvariants.problems(in: installation) == [])
    }

    /// A mirror whose last record differs from the store's record of the same seq (one hash character
    /// changed): the two tell different stories, so every command is refused naming `audit.log`, and
    /// nothing is appended.
    @Test func aMirrorThatDisagreesWithTheStoreIsRefused() throws {
        let installation = try VeilInstallation()
        for _ in 0..<2 { try #require(try installation.run(Self.query).status == 0) }
        var log = try Data(contentsOf: installation.auditLogFile)
        let hashKey = Data(#""hash":""#.utf8)
        let at = try #require(log.lastRange(of: hashKey)).upperBound
        log[at] = log[at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        try log.write(to: installation.auditLogFile)

        let result = try installation.run(Self.query)
        #expect(result.status != 0, "a spend was accepted beside a mirror that disagrees with the store")
        #expect(result.stderr.contains("audit.log"), "\(result.stderr)")
        #expect(try Data(contentsOf: installation.auditLogFile) == log)
    }

    /// The database files (`veil.sqlite`, `-wal`, `-shm`) by name, as they are now.
    static func databaseFiles(of installation: VeilInstallation) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for suffix in ["", "-wal", "-shm"] {
            let url = installation.dataDirectory.appendingPathComponent("veil.sqlite" + suffix)
            if let bytes = FileManager.default.contents(atPath: url.path) { files[url.lastPathComponent] = bytes }
        }
        return files
    }

    /// Issue 11's check after a fault that lost the spends: 12 more queries, none of them accepted
    /// (the count printed with `fault`); returns the last refusal's stderr.
    static func refusesTwelveMoreQueries(
        _ installation: VeilInstallation, fault: String, after spends: Int, spent: Double, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let results = try (0..<12).map { _ in try installation.run(query) }
        let acceptedAfter = results.filter { $0.status == 0 }.count
        print("fault: \(fault) after \(spends) spends (ε = \(spent) of 1.0): \(acceptedAfter) of 12 more queries accepted")
        #expect(acceptedAfter == 0, "the budget was reset: \(acceptedAfter) of 12 queries accepted", sourceLocation: sourceLocation)
        return results.last?.stderr ?? ""
    }

    static func spentEpsilon(_ installation: VeilInstallation) throws -> Double {
        let status = try installation.json(["budget"]) as? [String: Any]
        return try #require(status?["spent_epsilon"] as? Double)
    }
}

extension Data {
    func lastRange(of needle: Data) -> Range<Index>? { range(of: needle, options: .backwards) }
}
