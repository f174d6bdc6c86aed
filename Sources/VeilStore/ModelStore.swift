import GRDB
import VeilCore

/// A model's review state. Only `approved` models serve predictions.
public enum ModelState: String, Sendable, Codable, CaseIterable {
    case candidate, approved, rejected
}

/// One model in the registry (`models` table). The artifact itself is a file named by `id`.
public struct ModelRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "models"

    /// Hex of the first 16 bytes of BLAKE2b-256 of the artifact file.
    public var id: String
    public var task: String
    public var state: ModelState
    /// False for a non-private model, which can never be approved.
    public var isPrivate: Bool
    public var epsilon: Double?
    public var createdMillis: Int64
    public var reviewer: String?
    public var reviewNote: String?
    public var reviewedMillis: Int64?

    public init(id: String, task: String, isPrivate: Bool, epsilon: Double?, createdMillis: Int64) {
        self.id = id
        self.task = task
        state = .candidate
        self.isPrivate = isPrivate
        self.epsilon = epsilon
        self.createdMillis = createdMillis
    }

    enum CodingKeys: String, CodingKey {
        case id, task, state, epsilon, reviewer
        case isPrivate = "is_private"
        case createdMillis = "created_ms"
        case reviewNote = "review_note"
        case reviewedMillis = "reviewed_ms"
    }
}

/// The persisted model registry.
public protocol ModelStore: Sendable {
    func insert(_ record: ModelRecord) throws
    /// All models, newest first.
    func all() throws -> [ModelRecord]
    func find(id: String) throws -> ModelRecord?
    /// Moves a `candidate` to `approved` or `rejected` atomically; throws `.invalidInput` if the model is
    /// not a candidate any more and `.notFound` if it does not exist.
    func review(id: String, to state: ModelState, reviewer: String, note: String, atMillis: Int64) throws -> ModelRecord
    /// The most recently approved model for `task`, if any.
    func serving(task: String) throws -> ModelRecord?
}

/// `ModelStore` on the Veil SQLite database.
public struct SQLiteModelStore: ModelStore {
    private let database: VeilDatabase

    public init(database: VeilDatabase) { self.database = database }

    public func insert(_ record: ModelRecord) throws {
        try database.pool.write { db in try record.insert(db, onConflict: .ignore) }
    }

    public func all() throws -> [ModelRecord] {
        try database.pool.read { db in try ModelRecord.order(Column("created_ms").desc).fetchAll(db) }
    }

    public func find(id: String) throws -> ModelRecord? {
        try database.pool.read { db in try ModelRecord.fetchOne(db, key: id) }
    }

    public func review(id: String, to state: ModelState, reviewer: String, note: String, atMillis: Int64) throws -> ModelRecord {
        try database.pool.write { db in
            guard var record = try ModelRecord.fetchOne(db, key: id) else {
                throw VeilError(.notFound, field: "model_id", "no model \(id); see `veil models list`")
            }
            guard record.state == .candidate else {
                throw VeilError(.invalidInput, field: "model_id", "model \(id) is already \(record.state.rawValue); only a candidate can be reviewed")
            }
            record.state = state
            record.reviewer = reviewer
            record.reviewNote = note
            record.reviewedMillis = atMillis
            try record.update(db)
            return record
        }
    }

    public func serving(task: String) throws -> ModelRecord? {
        try database.pool.read { db in
            try ModelRecord
                .filter(Column("task") == task && Column("state") == ModelState.approved.rawValue)
                .order(Column("reviewed_ms").desc)
                .fetchOne(db)
        }
    }

    /// Creates `models`.
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("models-v1") { db in
            try db.create(table: "models") { table in
                table.primaryKey("id", .text)
                table.column("task", .text).notNull().indexed()
                table.column("state", .text).notNull()
                table.column("is_private", .boolean).notNull()
                table.column("epsilon", .double)
                table.column("created_ms", .integer).notNull()
                table.column("reviewer", .text)
                table.column("review_note", .text)
                table.column("reviewed_ms", .integer)
            }
        }
    }
}
