import Foundation
import GRDB
import VeilCore
import VeilStore

/// `KeySetStore` on the Veil SQLite database: the one-row table `key_set`.
struct SQLiteKeySetStore: KeySetStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain

    func keySet() async throws -> KeySetFingerprint? {
        try await database.read("key_set.read") { db in try Self.read(db) }
    }

    func bind(_ fingerprint: KeySetFingerprint, audit: AuditDraft) async throws {
        try await database.write("key_set.bind") { db in
            if let bound = try Self.read(db) {
                guard bound == fingerprint else {
                    throw VeilError(.conflict, field: "key_set", "the data directory is bound to another key set already")
                }
                return
            }
            try db.execute(
                sql: "INSERT INTO key_set (id, master, audit_public_key) VALUES (1, ?, ?)",
                arguments: [Data(fingerprint.master), Data(fingerprint.auditPublicKey)])
            try chain.append(audit, in: db)
        }
    }

    private static func read(_ db: Database) throws -> KeySetFingerprint? {
        try Row.fetchOne(db, sql: "SELECT master, audit_public_key FROM key_set WHERE id = 1").map { row in
            let master: Data = row["master"]
            let audit: Data = row["audit_public_key"]
            return KeySetFingerprint(master: [UInt8](master), auditPublicKey: [UInt8](audit))
        }
    }

    /// Creates `key_set`: at most one row, written once.
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("key-set-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE key_set (
                        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                        master BLOB NOT NULL CHECK (length(master) = 32),
                        audit_public_key BLOB NOT NULL CHECK (length(audit_public_key) = 32)
                    );
                    """)
        }
    }
}
