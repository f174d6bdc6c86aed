import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// `LedgerStore` on PostgreSQL: `budget_ledgers` (one row per dataset) and `budget_spends` (one row per
/// spend, linked to its `budget.spend` record by `audit_seq`).
///
/// Reservations are group-committed (`GroupCommitQueue`): those that arrive while one transaction runs
/// wait and share the next. A group is one READ COMMITTED transaction on one connection: make sure each
/// dataset's ledger row exists and lock them in name order (`SELECT … FOR UPDATE`) — every other
/// reservation on those datasets, in any process or replica, waits here until this group commits —
/// check the recorded policy (under the chain head's lock), read the spends (all committed, none can
/// be added meanwhile), then for each reservation in arrival order: run `decide` once on the spends
/// committed before and those decided earlier in the group, insert the spend, seal its record under
/// the chain head's lock (taken after the ledger rows', as every writer does), link the row to it.
/// Then one COMMIT — one WAL flush for the whole group, where one transaction per spend made 50
/// concurrent reservations queue for 50 flushes behind the row lock. A refused reservation (its
/// `decide` threw, or its policy is not the recorded one) writes nothing and gets its own error; the
/// others commit. If the transaction fails, every reservation of the group gets the error and none
/// is stored. No SERIALIZABLE retry: `decide` never runs twice.
struct PostgresLedgerStore: LedgerStore {
    let chain: PostgresAuditChain
    private let reservations: GroupCommitQueue<Reservation, BudgetSpend>

    /// One reservation waiting for its group.
    struct Reservation: Sendable {
        let dataset: String
        let policyHash: String?
        let decide: @Sendable ([BudgetSpend]) throws -> LedgerEntry
    }

    /// Reservations in one group at most (one transaction, one row lock held meanwhile).
    static let maxGroup = 64

    init(chain: PostgresAuditChain) {
        self.chain = chain
        reservations = GroupCommitQueue(maxWeight: PostgresLedgerStore.maxGroup) { group in
            try await PostgresLedgerStore.write(group, chain: chain)
        }
    }

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
        try await reservations.submit(Reservation(dataset: dataset, policyHash: policyHash, decide: decide))
    }

    /// One group of reservations in one transaction; see the type's contract. The decisions and the
    /// sealing run in memory, in arrival order, after the head's lock is taken; the group's spend ids
    /// come from one `nextval` call, and its records and rows are written with one statement each.
    private static func write(_ group: [Reservation], chain: PostgresAuditChain) async throws -> [Result<BudgetSpend, any Error>] {
        let logger = chain.logger
        return try await chain.audited("reserve privacy budget") { connection in
            let datasets = Set(group.map(\.dataset)).sorted()
            for dataset in datasets {
                try await ensureLedger(dataset, on: connection, logger: logger)
                try await connection.query("SELECT 1 FROM budget_ledgers WHERE dataset = \(dataset) FOR UPDATE", logger: logger).drain()
            }
            // The head's lock, after the ledger rows' as every writer takes it: the recorded policy is
            // read under it (a policy.load, sealed under it too, committed before this read or is sealed
            // after this group — the chain's order is the truth), and the group's records follow it.
            var head = try await chain.lockedHead(connection)
            let recorded = try await recordedPolicy(connection, logger: logger)
            var spends: [String: [BudgetSpend]] = [:]
            for dataset in datasets {
                spends[dataset] = try await Self.spends(
                    connection.query(
                        "SELECT \(unescaped: columns) FROM budget_spends WHERE dataset = \(dataset) ORDER BY id", logger: logger))
            }
            let ids = try await nextSpendIDs(group.count, on: connection, logger: logger)
            var results: [Result<BudgetSpend, any Error>] = []
            var stored: [BudgetSpend] = []
            var records: [SealedAuditRecord] = []
            for (reservation, id) in zip(group, ids) {
                if let refusal = LedgerPolicy.check(running: reservation.policyHash, recorded: recorded) {
                    results.append(.failure(refusal))
                    continue
                }
                let entry: LedgerEntry
                do {
                    entry = try reservation.decide(spends[reservation.dataset] ?? [])
                } catch {
                    results.append(.failure(error))
                    continue
                }
                let record = try chain.seal(entry.audit.linking(spendID: id), after: head)
                head = record.head
                var spend = entry.spend
                spend.id = id
                spend.auditSeq = record.seq
                records.append(record)
                stored.append(spend)
                spends[reservation.dataset, default: []].append(spend)
                results.append(.success(spend))
            }
            // Records first: a row's audit_seq references its record.
            try await chain.store(records, on: connection)
            try await insertAll(stored, on: connection, logger: logger)
            return results
        }
    }

    /// `count` fresh spend ids, in ascending order, from the table's sequence.
    private static func nextSpendIDs(_ count: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Int64] {
        var ids: [Int64] = []
        for try await id in try await connection.query(
            "SELECT nextval(pg_get_serial_sequence('budget_spends', 'id')) FROM generate_series(1, \(count))", logger: logger
        ).decode(Int64.self) {
            ids.append(id)
        }
        guard ids.count == count else { throw VeilError(.internal, field: "budget_spends", "the server handed out \(ids.count) of \(count) spend ids") }
        return ids.sorted()
    }

    /// Stores spends that carry their id and record seq, in one statement.
    private static func insertAll(_ spends: [BudgetSpend], on connection: PostgresConnection, logger: Logger) async throws {
        guard !spends.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO budget_spends (\(unescaped: columns))
            SELECT * FROM unnest(
                \(spends.map { $0.id ?? 0 })::bigint[], \(spends.map(\.dataset))::text[], \(spends.map(\.principal))::text[],
                \(spends.map(\.role))::text[], \(spends.map(\.purpose))::text[], \(spends.map(\.mechanism))::text[],
                \(spends.map(\.epsilon))::float8[], \(spends.map(\.delta))::float8[], \(spends.map(\.cumulativeEpsilon))::float8[],
                \(spends.map(\.createdMillis))::bigint[], \(spends.map { $0.auditSeq.map { Int64($0) } ?? 0 })::bigint[])
            """, logger: logger
        ).drain()
    }

    private static func recordedPolicy(_ connection: PostgresConnection, logger: Logger) async throws -> String? {
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
