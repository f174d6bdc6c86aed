import GRDB

/// Small named values the service keeps about itself (e.g. the hash of the last policy recorded).
public struct SQLiteSettingsStore: Sendable {
    private let database: VeilDatabase

    public init(database: VeilDatabase) { self.database = database }

    public func value(for key: String) throws -> String? {
        try database.pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) }
    }

    public func set(_ value: String, for key: String) throws {
        try database.pool.write { db in
            try db.execute(
                sql: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [key, value])
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
