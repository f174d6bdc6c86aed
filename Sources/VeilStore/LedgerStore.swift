import GRDB
import VeilCore

/// One privacy-budget spend as persisted in `budget_spends`. Spends are never updated or deleted:
/// a started release is never refunded.
public struct BudgetSpend: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "budget_spends"

    public var id: Int64?
    public var dataset: String
    /// Who asked: a token name, or `cli`.
    public var principal: String
    /// The role the principal acted in (`trainer`, `analyst`, …).
    public var role: String
    /// What the release is (e.g. `train purchase`, `query count_users`).
    public var purpose: String
    /// The mechanism's JSON description (see `PrivacyMechanism` in `docs/privacy.md`).
    public var mechanism: String
    /// ε of this release alone at `delta`.
    public var epsilon: Double
    public var delta: Double
    /// ε of everything spent on the dataset so far, this release included, composed with RDP.
    public var cumulativeEpsilon: Double
    /// Unix milliseconds.
    public var createdMillis: Int64

    public init(
        id: Int64? = nil, dataset: String, principal: String, role: String, purpose: String, mechanism: String,
        epsilon: Double, delta: Double, cumulativeEpsilon: Double, createdMillis: Int64
    ) {
        self.id = id
        self.dataset = dataset
        self.principal = principal
        self.role = role
        self.purpose = purpose
        self.mechanism = mechanism
        self.epsilon = epsilon
        self.delta = delta
        self.cumulativeEpsilon = cumulativeEpsilon
        self.createdMillis = createdMillis
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    enum CodingKeys: String, CodingKey {
        case id, dataset, principal, role, purpose, mechanism, epsilon, delta
        case cumulativeEpsilon = "cumulative_epsilon"
        case createdMillis = "created_ms"
    }
}

/// The persisted budget ledger.
public protocol LedgerStore: Sendable {
    /// Every spend on `dataset`, oldest first.
    func spends(dataset: String) throws -> [BudgetSpend]

    /// Check-and-spend as one atomic step: runs `decide` with the dataset's spends inside one exclusive
    /// write transaction (no other writer, in this or another process, can spend in between), inserts
    /// the spend it returns, and commits. If `decide` throws, nothing is written and the error propagates.
    func reserve(dataset: String, _ decide: ([BudgetSpend]) throws -> BudgetSpend) throws -> BudgetSpend
}

/// `LedgerStore` on the Veil SQLite database.
public struct SQLiteLedgerStore: LedgerStore {
    private let database: VeilDatabase

    public init(database: VeilDatabase) { self.database = database }

    public func spends(dataset: String) throws -> [BudgetSpend] {
        try database.pool.read { db in
            try BudgetSpend.filter(Column("dataset") == dataset).order(Column("id")).fetchAll(db)
        }
    }

    public func reserve(dataset: String, _ decide: ([BudgetSpend]) throws -> BudgetSpend) throws -> BudgetSpend {
        var stored: BudgetSpend?
        try database.pool.writeWithoutTransaction { db in
            // IMMEDIATE takes SQLite's write lock before reading, so two processes cannot both read the
            // same "spent so far" and both spend.
            try db.inTransaction(.immediate) {
                let existing = try BudgetSpend.filter(Column("dataset") == dataset).order(Column("id")).fetchAll(db)
                var spend = try decide(existing)
                try spend.insert(db)
                stored = spend
                return .commit
            }
        }
        return stored!
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
}
