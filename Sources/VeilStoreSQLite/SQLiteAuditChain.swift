import Foundation
import GRDB
import VeilCore
import VeilStore

/// The audit chain in `veil.sqlite`: the table `audit_chain` (seq, hash, line), and sealing a record
/// inside whatever write transaction is running.
///
/// `append(_:in:)` reads the head inside the transaction, seals the draft after it with the sealer the
/// store was opened with, and inserts it. SQLite has one writer at a time (IMMEDIATE transactions, in
/// this and every other process), so no two records can get the same seq; `seq` is the primary key
/// besides. After the transaction commits, the store's observer is told (the mirror catches up).
final class SQLiteAuditChain: Sendable {
    static let migrationIdentifier = "audit-v1"
    /// The settings row that marks a database made before the chain lived in it, whose `audit.log`
    /// has not been imported yet.
    static let importPendingKey = "audit_chain.import_pending"

    private let sealer: (any AuditSealer)?
    private let committed: @Sendable () -> Void

    init(configuration: StoreConfiguration) {
        sealer = configuration.sealer
        committed = configuration.auditCommitted
    }

    /// Creates `audit_chain`; in a database made before it (`madeBeforeTheChain`), marks the existing
    /// `audit.log` for import in the same migration.
    static func registerMigrations(_ migrator: inout DatabaseMigrator, madeBeforeTheChain: Bool) {
        migrator.registerMigration(migrationIdentifier) { db in
            try db.execute(
                sql: """
                    CREATE TABLE audit_chain (
                        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
                        hash BLOB NOT NULL CHECK (length(hash) = 32),
                        line TEXT NOT NULL
                    );
                    """)
            if madeBeforeTheChain {
                try db.execute(
                    sql: "INSERT INTO settings (key, value) VALUES (?, 'pending')", arguments: [importPendingKey])
            }
        }
    }

    /// The chain's head as the current transaction sees it.
    static func head(_ db: Database) throws -> AuditHead {
        guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_chain ORDER BY seq DESC LIMIT 1") else {
            return .empty
        }
        let hash: Data = row["hash"]
        return AuditHead(seq: UInt64(row["seq"] as Int64), hash: [UInt8](hash))
    }

    /// Seals `draft` after the current head and stores it, in the running write transaction.
    @discardableResult
    func append(_ draft: AuditDraft, in db: Database) throws -> SealedAuditRecord {
        guard let sealer else {
            throw VeilError(
                .forbidden, field: "audit.secret",
                "the store was opened without the audit signing key; this change cannot be recorded")
        }
        let record = try sealer.seal(draft, after: try Self.head(db))
        try Self.insert(record, in: db)
        let committed = committed
        db.afterNextTransaction(onCommit: { _ in committed() })
        return record
    }

    /// Stores a sealed record as it is.
    static func insert(_ record: SealedAuditRecord, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO audit_chain (seq, hash, line) VALUES (?, ?, ?)",
            arguments: [Int64(record.seq), Data(record.hash), record.line])
    }

    /// Tells the observer now (for writes that stored records sealed elsewhere).
    func notifyCommitted() { committed() }
}

/// `AuditChainStore` on the Veil SQLite database.
struct SQLiteAuditChainStore: AuditChainStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain

    func append(_ draft: AuditDraft) async throws -> SealedAuditRecord {
        try await database.write("audit.append") { db in try chain.append(draft, in: db) }
    }

    func head() async throws -> AuditHead {
        try await database.read("audit.head") { db in try SQLiteAuditChain.head(db) }
    }

    func records(after seq: UInt64, limit: Int) async throws -> [SealedAuditRecord] {
        precondition(limit > 0, "a page holds at least one record")
        return try await database.read("audit.records") { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, hash, line FROM audit_chain WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [Int64(clamping: seq), limit]
            ).map { row in
                let hash: Data = row["hash"]
                return SealedAuditRecord(seq: UInt64(row["seq"] as Int64), hash: [UInt8](hash), line: row["line"])
            }
        }
    }

    func importPending() async throws -> Bool {
        try await database.read("audit.import_pending") { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM settings WHERE key = ?)", arguments: [SQLiteAuditChain.importPendingKey]
            ) ?? false
        }
    }

    func adopt(_ records: [SealedAuditRecord], spends: [AdoptedSpend], completingImport: Bool) async throws {
        try await database.write("audit.adopt") { db in
            var expected = try SQLiteAuditChain.head(db).seq + 1
            for record in records {
                guard record.seq == expected else {
                    throw VeilError(
                        .conflict, field: "audit_chain",
                        "the records to adopt start at seq \(record.seq) but the store's chain continues at seq \(expected)")
                }
                try SQLiteAuditChain.insert(record, in: db)
                expected += 1
            }
            for adopted in spends { try SQLiteLedgerStore.adopt(adopted, in: db) }
            if completingImport {
                try db.execute(sql: "DELETE FROM settings WHERE key = ?", arguments: [SQLiteAuditChain.importPendingKey])
            }
        }
        if !records.isEmpty { chain.notifyCommitted() }
    }
}
