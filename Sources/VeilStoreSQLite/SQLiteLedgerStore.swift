import Foundation
import GRDB
import VeilCore
import VeilStore

/// `LedgerStore` on the Veil SQLite database: the table `budget_spends`, each row linked to its
/// `budget.spend` record by `audit_seq`.
///
/// Reservations are group-committed (`GroupCommitQueue`, up to `LedgerReservation.maxGroup`): those
/// that arrive while one transaction runs wait and share the next, so concurrent reservations share
/// one write lock, one read of the ledger and one durable commit instead of queueing for one each. A
/// group is one IMMEDIATE transaction (SQLite's write lock is taken before the spends are read, so no
/// other process can spend in between): read the recorded policy; then for each reservation in arrival
/// order check its policy, run `decide` once on the dataset's spends — those committed before the
/// group (read once per dataset) and those decided earlier in it — insert the row, seal the record
/// with `spend_id`, set the row's `audit_seq`; commit. A refused reservation (its `decide` threw, or its
/// policy is not the recorded one) writes nothing and gets its own error; the others commit. If the
/// transaction fails, every reservation of the group gets the error and none is stored. SQLite never
/// retries a transaction, so `decide` runs once.
struct SQLiteLedgerStore: LedgerStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain
    /// The reservations waiting for their group (internal for tests).
    let reservations: GroupCommitQueue<LedgerReservation, BudgetSpend>

    init(database: VeilDatabase, chain: SQLiteAuditChain) {
        self.database = database
        self.chain = chain
        reservations = GroupCommitQueue(maxWeight: LedgerReservation.maxGroup) { group in
            try await SQLiteLedgerStore.write(group, database: database, chain: chain)
        }
    }

    func spends(dataset: String) async throws -> [BudgetSpend] {
        try await database.read("ledger.spends") { db in try Self.spends(dataset, in: db) }
    }

    func allSpends() async throws -> [BudgetSpend] {
        try await database.read("ledger.all_spends") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM budget_spends ORDER BY id").map(Self.spend)
        }
    }

    /// `preparation` is ignored: one process, so nothing else waits for the lock while its work runs.
    func reserve(
        dataset: String, policyHash: String?, preparation: LedgerPreparation?,
        _ decide: @escaping @Sendable (LedgerSnapshot) throws -> LedgerEntry
    ) async throws -> BudgetSpend {
        try await reservations.submit(LedgerReservation(dataset: dataset, policyHash: policyHash, decide: decide))
    }

    /// One group of reservations in one transaction; see the type's contract.
    private static func write(
        _ group: [LedgerReservation], database: VeilDatabase, chain: SQLiteAuditChain
    ) async throws -> [Result<BudgetSpend, any Error>] {
        try await database.write("ledger.reserve") { db in
            let recorded = try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [SettingKey.policyHash])
            // Each dataset's spends, read in this transaction, with the decisions' spends appended: one
            // lineage (`LedgerSnapshot`) per list, fresh with every transaction.
            var ledgers: [String: (spends: [BudgetSpend], lineage: LedgerLineage)] = [:]
            var results: [Result<BudgetSpend, any Error>] = []
            for reservation in group {
                if let refusal = LedgerPolicy.check(running: reservation.policyHash, recorded: recorded) {
                    results.append(.failure(refusal))
                    continue
                }
                if ledgers[reservation.dataset] == nil { ledgers[reservation.dataset] = (try spends(reservation.dataset, in: db), .fresh()) }
                let entry: LedgerEntry
                do {
                    let ledger = ledgers[reservation.dataset]!
                    entry = try reservation.decide(LedgerSnapshot(ledger.spends, lineage: ledger.lineage))
                } catch {
                    results.append(.failure(error))
                    continue
                }
                var spend = entry.spend
                spend.id = nil
                spend.auditSeq = nil
                let id = try insert(spend, in: db)
                let record = try chain.append(entry.audit.linking(spendID: id), in: db)
                try db.execute(sql: "UPDATE budget_spends SET audit_seq = ? WHERE id = ?", arguments: [Int64(record.seq), id])
                spend.id = id
                spend.auditSeq = record.seq
                ledgers[reservation.dataset]?.spends.append(spend)
                results.append(.success(spend))
            }
            return results
        }
    }

    private static func spends(_ dataset: String, in db: Database) throws -> [BudgetSpend] {
        try Row.fetchAll(db, sql: "SELECT * FROM budget_spends WHERE dataset = ? ORDER BY id", arguments: [dataset]).map(spend)
    }

    /// Links or stores the row of an adopted `budget.spend` record (`AuditChainStore.adopt`).
    static func adopt(_ adopted: AdoptedSpend, in db: Database) throws {
        var spend = adopted.spend
        spend.auditSeq = adopted.auditSeq
        if let id = spend.id, let row = try Row.fetchOne(db, sql: "SELECT audit_seq FROM budget_spends WHERE id = ?", arguments: [id]) {
            let linked: Int64? = row["audit_seq"]
            if try adopted.needsLink(row: id, linkedTo: linked.map { UInt64($0) }) {
                try db.execute(sql: "UPDATE budget_spends SET audit_seq = ? WHERE id = ?", arguments: [Int64(adopted.auditSeq), id])
            }
            return
        }
        _ = try insert(spend, in: db)
    }

    /// Inserts a row (with `spend.id` when set) and returns its id.
    private static func insert(_ spend: BudgetSpend, in db: Database) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO budget_spends
                    (id, dataset, principal, role, purpose, mechanism, epsilon, delta, cumulative_epsilon, created_ms, audit_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                spend.id, spend.dataset, spend.principal, spend.role, spend.purpose, spend.mechanism, spend.epsilon,
                spend.delta, spend.cumulativeEpsilon, spend.createdMillis, spend.auditSeq.map { Int64($0) },
            ])
        return db.lastInsertedRowID
    }

    private static func spend(_ row: Row) -> BudgetSpend {
        let auditSeq: Int64? = row["audit_seq"]
        return BudgetSpend(
            id: row["id"], dataset: row["dataset"], principal: row["principal"], role: row["role"], purpose: row["purpose"],
            mechanism: row["mechanism"], epsilon: row["epsilon"], delta: row["delta"],
            cumulativeEpsilon: row["cumulative_epsilon"], createdMillis: row["created_ms"],
            auditSeq: auditSeq.map { UInt64($0) })
    }

    /// Creates `budget_spends`.
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("ledger-v1") { db in
            try db.create(table: "budget_spends") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("dataset", .text).notNull().indexed()
                table.column("principal", .text).notNull()
                table.column("role", .text).notNull()
                table.column("purpose", .text).notNull()
                table.column("mechanism", .text).notNull()
                table.column("epsilon", .double).notNull()
                table.column("delta", .double).notNull()
                table.column("cumulative_epsilon", .double).notNull()
                table.column("created_ms", .integer).notNull()
            }
        }
    }

    /// Links each spend to its `budget.spend` record: `audit_seq`, unique (rows stored before this
    /// migration get it when the old `audit.log` is imported).
    static func registerChainLinkMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("ledger-v2-audit-seq") { db in
            try db.execute(
                sql: """
                    ALTER TABLE budget_spends ADD COLUMN audit_seq INTEGER REFERENCES audit_chain(seq);
                    CREATE UNIQUE INDEX budget_spends_audit_seq ON budget_spends(audit_seq);
                    """)
        }
    }
}
