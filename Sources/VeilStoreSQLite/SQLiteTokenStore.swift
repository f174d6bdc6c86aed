import Foundation
import GRDB
import VeilCore
import VeilStore

/// `TokenStore` on the Veil SQLite database (the `tokens` table).
struct SQLiteTokenStore: TokenStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain

    /// Registers the `tokens` table migration (listed in `VeilDatabase.migrator`).
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("tokens-v1") { db in
            try db.create(table: "tokens") { table in
                table.column("name", .text).notNull().unique()
                table.column("role", .text).notNull()
                table.column("hash", .blob).notNull().unique()
                table.column("created", .datetime).notNull()
                table.column("revoked", .datetime)
            }
        }
    }

    func insert(_ record: TokenRecord, audit: AuditDraft) async throws {
        try await database.write("tokens.insert") { db in
            let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM tokens WHERE name = ?)", arguments: [record.name]) ?? false
            guard !exists else {
                throw VeilError(
                    .alreadyExists, field: "name",
                    "a token with this name exists already (revoked tokens keep their name); choose another name")
            }
            try db.execute(
                sql: "INSERT INTO tokens (name, role, hash, created, revoked) VALUES (?, ?, ?, ?, ?)",
                arguments: [record.name, record.role.rawValue, Data(record.hash), record.created, record.revoked])
            try chain.append(audit, in: db)
        }
    }

    func token(hash: [UInt8]) async throws -> TokenRecord? {
        try await database.read("tokens.find") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE hash = ?", arguments: [Data(hash)]).map(Self.record)
        }
    }

    func all() async throws -> [TokenRecord] {
        try await database.read("tokens.all") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY created, name").map(Self.record)
        }
    }

    func revoke(name: String, at date: Date, audit: AuditDraft) async throws -> Bool {
        try await database.write("tokens.revoke") { db in
            try db.execute(sql: "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", arguments: [date, name])
            guard db.changesCount > 0 else { return false }
            try chain.append(audit, in: db)
            return true
        }
    }

    private static func record(_ row: Row) throws -> TokenRecord {
        guard let role = Role(rawValue: row["role"]) else {
            throw VeilError(.integrity, field: "tokens.role", "holds a role Veil does not know")
        }
        let hash: Data = row["hash"]
        return TokenRecord(name: row["name"], role: role, hash: [UInt8](hash), created: row["created"], revoked: row["revoked"])
    }
}
