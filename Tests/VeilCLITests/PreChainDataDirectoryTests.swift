import Foundation
import Testing

/// crash-contract.md §3, migration, on a data directory written by the binary before the audit chain
/// moved into the store (main at efdbcda): `Fixtures/pre-chain-data-directory.tar.gz` holds its
/// `keys/` and `data/` — 30 events of three users (`fixture-user-a`, `-b`, `-c`), a token, spends
/// of ε = 0.5 and 0.25 by `veil query`, and then a `veil query --epsilon 1` killed (`kill -9`) the
/// moment its `budget.spend` record reached `audit.log`: issue 11's defect, a signed spend whose
/// ledger transaction never committed (the ledger holds 2 spends, the log 3).
@Suite struct PreChainDataDirectoryTests {
    static let fixture = Bundle.module.url(
        forResource: "pre-chain-data-directory", withExtension: "tar.gz", subdirectory: "Fixtures")!

    /// The first open migrates it: the log's records are copied into the store, the orphaned spend
    /// gets its ledger row (never un-spent), and the directory then passes every crash invariant; the
    /// mirror keeps every record it had, byte for byte; the old events are still there to erase; a
    /// new spend verifies.
    @Test func anOldDataDirectoryIsMigratedAndItsOrphanedSpendKept() throws {
        let installation = try VeilInstallation(unpacking: Self.fixture)
        let log = try Data(contentsOf: installation.auditLogFile)

        let status = try installation.json(["budget"]) as? [String: Any]
        let spends = status?["spends"] as? [[String: Any]] ?? []
        #expect(spends.map { $0["purpose"] as? String } == ["query count_events", "query count_users", "query count_events"])
        #expect(CrashInvariants.problems(in: installation) == [])
        #expect(try Data(contentsOf: installation.auditLogFile).starts(with: log), "the migration rewrote audit.log")

        let erased = try installation.json(["erase", "--user", "fixture-user-a"]) as? [String: Any]
        #expect(erased?["events_deleted"] as? Int == 10)
        #expect(erased?["vault_rows_deleted"] as? Int == 1)
        #expect(CrashInvariants.problemsAfterANewSpend(in: installation) == [])
    }
}
