import Dispatch
import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
@testable import VeilStoreSQLite

/// SQLite groups concurrent reservations into one transaction each (`GroupCommitQueue`), as
/// PostgreSQL does: the contract suite checks what each decision sees; this checks that they share
/// transactions. Before, each reservation was an IMMEDIATE transaction and a durable commit of its
/// own, read the whole ledger again, and 50 concurrent reservations queued for 50 of them.
@Suite struct LedgerGroupCommitTests {
    @Test func concurrentReservationsShareTransactions() async throws {
        let dir = ScratchDirectory()
        let stores = try SQLiteStores.open(
            directory: dir.path, configuration: StoreConfiguration(sealer: AuditSigner(signingKey: .generate())))
        let ledger = try #require(stores.ledger as? SQLiteLedgerStore)
        let count = 40
        // The first decision (on the writer's queue, no cooperative thread) waits until every task is
        // about to submit (each signals once), so the others queue behind its transaction.
        let submitting = DispatchSemaphore(value: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    submitting.signal()
                    _ = try await ledger.reserve(dataset: "shop") { existing in
                        if existing.isEmpty { for _ in 0..<count { submitting.wait() } }
                        let spend = BudgetSpend(
                            dataset: "shop", principal: "p-\(index)", role: "analyst", purpose: "count",
                            mechanism: #"{"epsilon":0.01,"mechanism":"pure_epsilon"}"#, epsilon: 0.01, delta: 1e-6,
                            cumulativeEpsilon: Double(existing.count + 1), createdMillis: 1_795_435_200_000)
                        return LedgerEntry(
                            spend: spend, audit: AuditDraft(actor: spend.principal, action: .budgetSpend, details: [:]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let spends = try await ledger.spends(dataset: "shop")
        #expect(spends.map(\.cumulativeEpsilon) == (1...count).map(Double.init), "each decision saw every spend before it")
        // How many groups depends on scheduling (one, when every task submits before the writer
        // starts); one transaction per reservation would be `count`.
        #expect(ledger.reservations.groupsWritten < count)
    }
}
