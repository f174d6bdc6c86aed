import Foundation
import Synchronization
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// A reservation group holds the ledger row's and the chain head's locks from its read to its COMMIT,
/// and every replica's reservations wait for them. Its decisions, sealing and the awaits in between
/// run in the group writer's task; at the default priority each of those continuations queued behind
/// every job the process's other tasks had put on the cooperative pool (a closed loop of 50
/// reservations keeps it full), so the locks were held that much longer.
@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresReservationPriorityTests {
    /// A decision runs at `.high`, whichever priority the reservation was submitted at. (It ran at
    /// the writer's default, `.medium`, before.)
    @Test func aGroupsDecisionsRunAtHighPriority() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let ledger = PostgresLedgerStore(
            chain: PostgresAuditChain(database: database, configuration: StoreConfiguration(sealer: AuditSigner(signingKey: .generate()))))
        for submitted in [TaskPriority.low, .medium] {
            let seen = Mutex<TaskPriority?>(nil)
            let spend = try await Task(priority: submitted) {
                try await ledger.reserve(dataset: "shop", policyHash: nil) { existing in
                    seen.withLock { $0 = Task.currentPriority }
                    let spend = BudgetSpend(
                        dataset: "shop", principal: "analyst-1", role: "analyst", purpose: "count",
                        mechanism: #"{"epsilon":0.1,"mechanism":"pure_epsilon"}"#, epsilon: 0.1, delta: 1e-6,
                        cumulativeEpsilon: 0.1 * Double(existing.count + 1), createdMillis: 1_795_435_200_000)
                    return LedgerEntry(spend: spend, audit: AuditDraft(actor: "analyst-1", action: .budgetSpend, details: [:]))
                }
            }.value
            #expect(spend.auditSeq != nil, "submitted at \(submitted)")
            #expect(seen.withLock { $0 } == .high, "submitted at \(submitted)")
        }
    }
}
