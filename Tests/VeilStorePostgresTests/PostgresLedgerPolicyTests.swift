import Foundation
import PostgresNIO
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// A reservation checks its process's policy against the one recorded with the ledger, under the
/// chain head's lock. A `policy.load` that commits while the reservation waits for that lock must be
/// seen: the chain seals the new policy's record first, so a spend decided under the old policy's caps
/// after it would make the ledger and the audit log tell different stories.
@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresLedgerPolicyTests {
    /// Another transaction records policy "hash-b" (the setting, then the head's lock, as
    /// `SettingsStore.set` with its audit record does) and holds them; a reservation under "hash-a"
    /// starts and waits for the head; the other transaction commits. The reservation is refused,
    /// naming both hashes, and spends nothing. (When the recorded policy was read by the statement
    /// that waited for the lock, it read "hash-a" as of the statement's start and spent.)
    @Test(.timeLimit(.minutes(10)))
    func aPolicyLoadCommittedWhileAReservationWaitsForTheHeadIsSeen() async throws {
        let (database, replica, configuration) = try await Self.twoReplicas()
        defer {
            database.close()
            replica.close()
        }
        let settings = PostgresSettingsStore(chain: PostgresAuditChain(database: database, configuration: configuration))
        let ledger = PostgresLedgerStore(chain: PostgresAuditChain(database: replica, configuration: configuration))
        try await settings.set("hash-a", for: SettingKey.policyHash, audit: nil)

        let decided = try await database.withConnection("hold a policy change") { connection in
            try await connection.query("BEGIN", logger: database.logger).drain()
            try await connection.query(
                "UPDATE settings SET value = 'hash-b' WHERE key = \(SettingKey.policyHash)", logger: database.logger
            ).drain()
            try await connection.query("SELECT 1 FROM audit_head FOR UPDATE", logger: database.logger).drain()
            let reservation = Task { try await Self.reserve(ledger, policyHash: "hash-a", purpose: "stale") }
            // Until the reservation's statement waits for the head's row lock (no clock: the server says so).
            while try await Self.backendsWaitingForALock(connection, logger: database.logger) == 0 {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await connection.query("COMMIT", logger: database.logger).drain()
            return await reservation.result
        }
        switch decided {
        case .success:
            Issue.record("a reservation under the old policy spent after the new policy was recorded")
        case .failure(let error):
            let refusal = error as? VeilError
            #expect(refusal?.code == .conflict, "\(error)")
            #expect("\(error)".contains("hash-a") && "\(error)".contains("hash-b"), "names both hashes")
        }
        #expect(try await ledger.spends(dataset: "shop").isEmpty)
    }

    /// A group locks its dataset's ledger row and then the chain head in one statement. While it waits
    /// for the ledger row (another replica's group holds it), it must hold no lock on the head: every
    /// writer takes the head last, so a group holding the head while it waited for a ledger row would
    /// stall every audited write of every replica, and could wait in a circle with a group that holds
    /// the row. Another transaction takes the head with NOWAIT meanwhile (it fails at once if the head
    /// is locked); once the row is free the reservation spends.
    @Test(.timeLimit(.minutes(10)))
    func aReservationWaitingForItsLedgerRowHoldsNoHeadLock() async throws {
        let (database, replica, configuration) = try await Self.twoReplicas()
        defer {
            database.close()
            replica.close()
        }
        let ledger = PostgresLedgerStore(chain: PostgresAuditChain(database: replica, configuration: configuration))
        let reserve: @Sendable () async throws -> BudgetSpend = { try await Self.reserve(ledger, policyHash: nil, purpose: "waits") }
        _ = try await reserve()  // the ledger row exists from here on

        let (headWasFree, waited) = try await database.withConnection("hold the ledger row") { connection in
            try await connection.query("BEGIN", logger: database.logger).drain()
            try await connection.query("SELECT 1 FROM budget_ledgers WHERE dataset = 'shop' FOR UPDATE", logger: database.logger).drain()
            let reservation = Task { try await reserve() }
            while try await Self.backendsWaitingForALock(connection, logger: database.logger) == 0 {
                try await Task.sleep(for: .milliseconds(20))
            }
            let headWasFree = try await database.withConnection("take the head") { other in
                try await other.query("BEGIN", logger: database.logger).drain()
                let free: Bool
                do {
                    try await other.query("SELECT 1 FROM audit_head FOR UPDATE NOWAIT", logger: database.logger).drain()
                    free = true
                } catch {
                    free = false
                }
                try await other.query("ROLLBACK", logger: database.logger).drain()
                return free
            }
            try await connection.query("COMMIT", logger: database.logger).drain()
            return (headWasFree, await reservation.result)
        }
        #expect(headWasFree, "the waiting reservation held the chain head")
        #expect((try? waited.get()) != nil, "the reservation spends once the ledger row is free")
        #expect(try await ledger.spends(dataset: "shop").count == 2)
    }

    /// A migrated database, a second pool on it (another replica) and one sealing configuration.
    private static func twoReplicas() async throws -> (VeilPostgresDatabase, VeilPostgresDatabase, StoreConfiguration) {
        let database = try await PostgresTestDatabase.migrated()
        let replica = try await VeilPostgresDatabase.open(database.location)
        return (database, replica, StoreConfiguration(sealer: AuditSigner(signingKey: .generate())))
    }

    /// Reserves ε = 0.1 on dataset "shop" through `ledger`, under `policyHash`, for `purpose`.
    private static func reserve(_ ledger: PostgresLedgerStore, policyHash: String?, purpose: String) async throws -> BudgetSpend {
        try await ledger.reserve(dataset: "shop", policyHash: policyHash) { existing in
            let spend = BudgetSpend(
                dataset: "shop", principal: "analyst-1", role: "analyst", purpose: purpose,
                mechanism: #"{"epsilon":0.1,"mechanism":"pure_epsilon"}"#, epsilon: 0.1, delta: 1e-6,
                cumulativeEpsilon: 0.1 * Double(existing.count + 1), createdMillis: 1_795_435_200_000)
            return LedgerEntry(spend: spend, audit: AuditDraft(actor: "analyst-1", action: .budgetSpend, details: ["purpose": .string(purpose)]))
        }
    }

    /// How many other backends of this database wait for a lock.
    private static func backendsWaitingForALock(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        var count = 0
        for try await waiting in try await connection.query(
            """
            SELECT count(*)::int FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
            """, logger: logger
        ).decode(Int.self) {
            count = waiting
        }
        return count
    }
}
