import Foundation
import GRDB
import VeilCore

/// One API token as stored: its name, role and keyed hash. The token itself is never stored.
public struct TokenRecord: Sendable, Equatable {
    /// Operator-chosen, unique for the life of the database (a revoked token keeps its name).
    public var name: String
    public var role: Role
    /// `BLAKE2b-256(key = token-hash key, message = the token's 32 secret bytes)`.
    public var hash: [UInt8]
    public var created: Date
    /// When the token was revoked; a revoked token never authenticates again.
    public var revoked: Date?

    public init(name: String, role: Role, hash: [UInt8], created: Date, revoked: Date? = nil) {
        self.name = name
        self.role = role
        self.hash = hash
        self.created = created
        self.revoked = revoked
    }
}

/// Where API tokens are kept. Implementations must make `insert` fail with
/// `VeilError(.alreadyExists)` for a name already used, revoked or not.
public protocol TokenStore: Sendable {
    func insert(_ record: TokenRecord) async throws
    /// The token with this hash, revoked or not; nil when there is none.
    func token(hash: [UInt8]) async throws -> TokenRecord?
    /// Every token, revoked ones included, oldest first.
    func all() async throws -> [TokenRecord]
    /// Marks the named token revoked at `date`. Returns false when no unrevoked token has that name.
    func revoke(name: String, at date: Date) async throws -> Bool
}

/// The `tokens` table in the SQLite `VeilDatabase`.
public struct SQLiteTokenStore: TokenStore {
    private let database: VeilDatabase

    public init(database: VeilDatabase) { self.database = database }

    /// Registers the `tokens` table migration (listed in `VeilDatabase.migrations`).
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

    public func insert(_ record: TokenRecord) async throws {
        try await write { db in
            let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM tokens WHERE name = ?)", arguments: [record.name]) ?? false
            guard !exists else {
                throw VeilError(
                    .alreadyExists, field: "name",
                    "a token with this name exists already (revoked tokens keep their name); choose another name")
            }
            try db.execute(
                sql: "INSERT INTO tokens (name, role, hash, created, revoked) VALUES (?, ?, ?, ?, ?)",
                arguments: [record.name, record.role.rawValue, Data(record.hash), record.created, record.revoked])
        }
    }

    public func token(hash: [UInt8]) async throws -> TokenRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE hash = ?", arguments: [Data(hash)]).map(Self.record)
        }
    }

    public func all() async throws -> [TokenRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY created, name").map(Self.record)
        }
    }

    public func revoke(name: String, at date: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", arguments: [date, name])
            return db.changesCount > 0
        }
    }

    private static func record(_ row: Row) throws -> TokenRecord {
        guard let role = Role(rawValue: row["role"]) else {
            throw VeilError(.integrity, field: "tokens.role", "holds a role Veil does not know")
        }
        let hash: Data = row["hash"]
        return TokenRecord(name: row["name"], role: role, hash: [UInt8](hash), created: row["created"], revoked: row["revoked"])
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await database.read(body) } catch let error as VeilError { throw error } catch {
            throw VeilError(.unavailable, "the token store cannot be read right now; retry later")
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await database.pool.write(body) } catch let error as VeilError { throw error } catch {
            throw VeilError(.unavailable, "the token store cannot be written right now; retry later")
        }
    }
}
