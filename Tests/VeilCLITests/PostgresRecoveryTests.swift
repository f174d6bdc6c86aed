import Foundation
import Testing
import VeilTestSupport

/// `veil db recover` on PostgreSQL (issue 13, crash-contract.md §3): a database behind a replica's
/// `audit.log` — emptied and migrated afresh, or an older backup restored with `pg_restore` — is
/// refused by every command, and recovery rebuilds the ledger and the chain from the verified mirror,
/// as on SQLite (`DataDirectoryFaultTests`). On the real binary and a throwaway cluster; skipped, saying
/// why, only where PostgreSQL is not installed.
@Suite(.serialized, .enabled(if: PostgresTestCluster.unavailableReason == nil, Comment(rawValue: PostgresTestCluster.unavailableReason ?? "")))
struct PostgresRecoveryTests {
    enum DatabaseFault: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// Every table dropped, then `veil db migrate`: an empty database of the current schema.
        case emptied
        /// A `pg_dump --format=custom` taken after the first spend, restored over the database.
        case olderBackup

        var testDescription: String {
            switch self {
            case .emptied: "an emptied, freshly migrated database"
            case .olderBackup: "an older pg_dump restored"
            }
        }
    }

    /// Issue 11's scenario on PostgreSQL: ε = 0.1 spent until the cap of 1.0 refuses (10 spends), then
    /// the database loses its spends. 12 more queries: 0 accepted, each refusal naming `audit.log` and
    /// `veil db recover`, and the mirror is not written; `veil db recover` then restores exactly the ε
    /// spent, the cap still binds, and the ledger and the chain tell one story.
    @Test(arguments: DatabaseFault.allCases)
    func aDatabaseBehindTheLogIsRefusedThenRecovered(_ fault: DatabaseFault) throws {
        let cluster = try PostgresTestCluster()
        defer { cluster.stop() }
        let installation = try VeilInstallation.onPostgres(cluster, policy: DataDirectoryFaultTests.smallBudget)
        let backup = installation.root.appendingPathComponent("after-first-spend.dump")
        var accepted = 0
        while accepted < 20, try installation.run(DataDirectoryFaultTests.query).status == 0 {
            accepted += 1
            if accepted == 1 { try cluster.client("pg_dump", ["--format=custom", "--file", backup.path]) }
        }
        #expect(accepted == 10, "ε = 0.1 queries under a cap of 1.0")
        let spent = try DataDirectoryFaultTests.spentEpsilon(installation)

        try cluster.psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        switch fault {
        case .emptied:
            let again = try installation.run(["db", "migrate"])
            try #require(again.status == 0, "\(again.stderr)")
        case .olderBackup:
            try cluster.client("pg_restore", [backup.path])
        }
        let log = try Data(contentsOf: installation.auditLogFile)

        let refusal = try DataDirectoryFaultTests.refusesTwelveMoreQueries(
            installation, fault: "PostgreSQL, \(fault.testDescription)", after: accepted, spent: spent)
        #expect(refusal.contains("audit.log") && refusal.contains("veil db recover"), "\(refusal)")
        #expect(try Data(contentsOf: installation.auditLogFile) == log, "a refused command wrote to audit.log")

        let recovered = try installation.run(["db", "recover"])
        #expect(recovered.status == 0, "veil db recover: \(recovered.stderr)")
        #expect(try abs(DataDirectoryFaultTests.spentEpsilon(installation) - spent) < 1e-9, "recovery changed the ε spent")
        #expect(try installation.run(DataDirectoryFaultTests.query).status != 0, "a query was accepted past the cap after recovery")
        #expect(CrashInvariants.problems(in: installation, storedEventIDs: []) == [])
    }
}
