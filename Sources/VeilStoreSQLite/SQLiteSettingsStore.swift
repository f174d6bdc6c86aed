import GRDB
import VeilCore
import VeilStore

/// `SettingsStore` on the Veil SQLite database (the `settings` table).
struct SQLiteSettingsStore: SettingsStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain

    func value(for key: String) async throws -> String? {
        try await database.read("settings.value") { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key])
        }
    }

    func set(_ value: String, for key: String, audit: AuditDraft?) async throws {
        try await database.write("settings.set") { db in
            try db.execute(
                sql: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [key, value])
            if let audit { try chain.append(audit, in: db) }
        }
    }

    /// Creates `settings`.
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("settings-v1") { db in
            try db.create(table: "settings") { table in
                table.primaryKey("key", .text)
                table.column("value", .text).notNull()
            }
        }
    }
}
