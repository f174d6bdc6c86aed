import Foundation
import GRDB
import VeilCore
import VeilStore

/// `LedgerStore` on the Veil SQLite database: the table `budget_spends`, each row linked to its
/// `budget.spend` record by `audit_seq`.
///
/// `reserve` runs in one IMMEDIATE transaction (SQLite's write lock is taken before the spends are
/// read, so no other process can spend in between): read the spends, decide, insert the row, seal the
/// record with `spend_id`, set the row's `audit_seq`, commit. SQLite never retries a transaction, so
/// `decide` runs once.
struct SQLiteLedgerStore: LedgerStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain

    func spends(dataset: String) async throws -> [BudgetSpend] {
        try await database.read("ledger.spends") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM budget_spends WHERE dataset = ? ORDER BY id", arguments: [dataset])
                .map(Self.spend)
        }
    }

    func allSpends() async throws -> [BudgetSpend] {
        try await database.read("ledger.all_spends") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM budget_spends ORDER BY id").map(Self.spend)
        }
    }

    func reserve(dataset: String, _ decide: @escaping @Sendable ([BudgetSpend]) throws -> LedgerEntry) async throws
        -> BudgetSpend
    {
        try await database.write("ledger.reserve") { db in
            let existing = try Row.fetchAll(
                db, sql: "SELECT * FROM budget_spends WHERE dataset = ? ORDER BY id", arguments: [dataset]
            ).map(Self.spend)
            let entry = try CallerError.marking { try decide(existing) }
            var spend = entry.spend
            spend.id = nil
            spend.auditSeq = nil
            let id = try Self.insert(spend, in: db)
            let record = try chain.append(entry.audit.linking(spendID: id), in: db)
            try db.execute(sql: "UPDATE budget_spends SET audit_seq = ? WHERE id = ?", arguments: [Int64(record.seq), id])
            spend.id = id
            spend.auditSeq = record.seq
            return spend
        }
    }

    /// Links or stores the row of an adopted `budget.spend` record (`AuditChainStore.adopt`).
    static func adopt(_ adopted: AdoptedSpend, in db: Database) throws {
        var spend = adopted.spend
        spend.auditSeq = adopted.auditSeq
        if let id = spend.id, let row = try Row.fetchOne(db, sql: "SELECT audit_seq FROM budget_spends WHERE id = ?", arguments: [id]) {
            let linked: Int64? = row["audit_seq"]
            switch linked {
            case nil:
                try db.execute(sql: "UPDATE budget_spends SET audit_seq = ? WHERE id = ?", arguments: [Int64(adopted.auditSeq), id])
            case Int64(adopted.auditSeq)?:
                break
            default:
                throw VeilError(
                    .conflict, field: "budget_spends",
                    "spend \(id) is linked to audit record \(linked!) already, not to record \(adopted.auditSeq)")
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
