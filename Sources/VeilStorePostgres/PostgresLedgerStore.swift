import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// `LedgerStore` on PostgreSQL: `budget_ledgers` (one row per dataset) and `budget_spends` (one row per
/// spend, linked to its `budget.spend` record by `audit_seq`).
///
/// `reserve` is one READ COMMITTED transaction on one connection: make sure the dataset's ledger row
/// exists, lock it (`SELECT … FOR UPDATE`) — every other reservation on the dataset, in any process or
/// replica, waits here until this one commits — check the recorded policy (under the chain head's
/// lock), read the spends (all committed, none can be added
/// meanwhile), run `decide` once, insert the spend, seal its record under the chain head's lock (taken
/// after the ledger row's, as every writer does), link the row to it, commit. No SERIALIZABLE retry:
/// `decide` never runs twice here.
struct PostgresLedgerStore: LedgerStore {
    let chain: PostgresAuditChain

    private var database: VeilPostgresDatabase { chain.database }
    private var logger: Logger { chain.logger }

    static let columns = "id, " + columnsAfterID
    static let columnsAfterID = "dataset, principal, role, purpose, mechanism, epsilon, delta, cumulative_epsilon, created_ms, audit_seq"

    func spends(dataset: String) async throws -> [BudgetSpend] {
        try await database.withConnection("read the ledger") { connection in
            try await Self.spends(
                connection.query("SELECT \(unescaped: Self.columns) FROM budget_spends WHERE dataset = \(dataset) ORDER BY id", logger: logger))
        }
    }

    func allSpends() async throws -> [BudgetSpend] {
        try await database.withConnection("read the ledger") { connection in
            try await Self.spends(connection.query("SELECT \(unescaped: Self.columns) FROM budget_spends ORDER BY id", logger: logger))
        }
    }

    func reserve(
        dataset: String, policyHash: String?, _ decide: @escaping @Sendable ([BudgetSpend]) throws -> LedgerEntry
    ) async throws -> BudgetSpend {
        try await chain.audited("reserve privacy budget") { connection in
            try await Self.ensureLedger(dataset, on: connection, logger: logger)
            try await connection.query("SELECT 1 FROM budget_ledgers WHERE dataset = \(dataset) FOR UPDATE", logger: logger).drain()
            if let policyHash {
                // Under the chain head's lock: a policy.load (sealed under it too) either committed
                // before this read or is sealed after this spend — the chain's order is the truth.
                _ = try await chain.lockedHead(connection)
                if let refusal = LedgerPolicy.check(running: policyHash, recorded: try await recordedPolicy(connection)) { throw refusal }
            }
            let existing = try await Self.spends(
                connection.query("SELECT \(unescaped: Self.columns) FROM budget_spends WHERE dataset = \(dataset) ORDER BY id", logger: logger))
            let entry = try CallerError.marking { try decide(existing) }
            var spend = entry.spend
            spend.id = nil
            spend.auditSeq = nil
            let id = try await Self.insert(spend, on: connection, logger: logger)
            let record = try await chain.append(entry.audit.linking(spendID: id), on: connection)
            try await connection.query("UPDATE budget_spends SET audit_seq = \(Int64(record.seq)) WHERE id = \(id)", logger: logger).drain()
            spend.id = id
            spend.auditSeq = record.seq
            return spend
        }
    }

    private func recordedPolicy(_ connection: PostgresConnection) async throws -> String? {
        for try await value in try await connection.query(
            "SELECT value FROM settings WHERE key = \(SettingKey.policyHash)", logger: logger
        ).decode(String.self) {
            return value
        }
        return nil
    }

    /// Links or stores the row of an adopted `budget.spend` record (`AuditChainStore.adopt`), in the
    /// caller's transaction.
    static func adopt(_ adopted: AdoptedSpend, on connection: PostgresConnection, logger: Logger) async throws {
        var spend = adopted.spend
        spend.auditSeq = adopted.auditSeq
        if let id = spend.id {
            var found = false
            var linked: Int64?
            for try await value in try await connection.query("SELECT audit_seq FROM budget_spends WHERE id = \(id) FOR UPDATE", logger: logger)
                .decode(Int64?.self)
            {
                found = true
                linked = value
            }
            if found {
                if try adopted.needsLink(row: id, linkedTo: linked.map { UInt64($0) }) {
                    try await connection.query(
                        "UPDATE budget_spends SET audit_seq = \(Int64(adopted.auditSeq)) WHERE id = \(id)", logger: logger
                    ).drain()
                }
                return
            }
        }
        try await ensureLedger(spend.dataset, on: connection, logger: logger)
        _ = try await insert(spend, on: connection, logger: logger)
        // A row stored with its own id: the id sequence moves past it, so later spends never collide.
        try await connection.query(
            "SELECT setval(pg_get_serial_sequence('budget_spends', 'id'), (SELECT max(id) FROM budget_spends))", logger: logger
        ).drain()
    }

    private static func ensureLedger(_ dataset: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("INSERT INTO budget_ledgers (dataset) VALUES (\(dataset)) ON CONFLICT DO NOTHING", logger: logger)
            .drain()
    }

    /// Inserts a row (with `spend.id` when set) and returns its id.
    private static func insert(_ spend: BudgetSpend, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let auditSeq = spend.auditSeq.map { Int64($0) }
        let rows: PostgresRowSequence
        if let id = spend.id {
            rows = try await connection.query(
                """
                INSERT INTO budget_spends (\(unescaped: columns))
                VALUES (\(id), \(spend.dataset), \(spend.principal), \(spend.role), \(spend.purpose), \(spend.mechanism), \(spend.epsilon),
                    \(spend.delta), \(spend.cumulativeEpsilon), \(spend.createdMillis), \(auditSeq))
                RETURNING id
                """, logger: logger)
        } else {
            rows = try await connection.query(
                """
                INSERT INTO budget_spends (\(unescaped: columnsAfterID))
                VALUES (\(spend.dataset), \(spend.principal), \(spend.role), \(spend.purpose), \(spend.mechanism), \(spend.epsilon),
                    \(spend.delta), \(spend.cumulativeEpsilon), \(spend.createdMillis), \(auditSeq))
                RETURNING id
                """, logger: logger)
        }
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        return id
    }

    private static func spends(_ rows: PostgresRowSequence) async throws -> [BudgetSpend] {
        var spends: [BudgetSpend] = []
        for try await (id, dataset, principal, role, purpose, mechanism, epsilon, delta, cumulative, created, auditSeq) in rows.decode(
            (Int64, String, String, String, String, String, Double, Double, Double, Int64, Int64?).self)
        {
            spends.append(
                BudgetSpend(
                    id: id, dataset: dataset, principal: principal, role: role, purpose: purpose, mechanism: mechanism, epsilon: epsilon,
                    delta: delta, cumulativeEpsilon: cumulative, createdMillis: created, auditSeq: auditSeq.map { UInt64($0) }))
        }
        return spends
    }
}
