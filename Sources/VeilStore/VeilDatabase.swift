import Foundation
import GRDB
import VeilCore

/// The SQLite database in the data directory (`<data-dir>/veil.sqlite`), opened in WAL mode with
/// `synchronous = FULL`, so a transaction that has returned is on disk and survives a crash.
///
/// Every table is created by a named migration in `VeilDatabase.migrator`; each store adds its own
/// migrations in its own file, and the migrator runs them in order at open.
public final class VeilDatabase: Sendable {
    /// The file name inside the data directory.
    public static let fileName = "veil.sqlite"

    /// The connection pool: one writer, concurrent readers.
    public let pool: DatabasePool
    public let path: String
    /// Copies the WAL into the database file after an import's commit, off the commit's path.
    let checkpointer: WALCheckpointer

    /// Opens (creating if needed) the database in `directory` and brings its schema up to date.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VeilError(.unavailable, field: directory, "cannot create the data directory: \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent(Self.fileName)
        checkpointer = WALCheckpointer(path: path)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // 64 MiB of page cache per connection (default 2 MiB): bulk ingestion touches index pages
            // all over the file, and a small cache turns each batch into reads and WAL spills.
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        configuration.busyMode = .timeout(10)
        do {
            if !FileManager.default.fileExists(atPath: path) { try Self.create(path) }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw VeilError(.unavailable, field: path, "cannot open the database: \(error)")
        }
    }

    /// The page size of a new database: 16 KiB, not SQLite's 4 KiB. Events are small rows appended
    /// in bulk; larger pages halve the B-tree pages an import touches and write (`VeilBench ingest`:
    /// about 0.3 s less per million events). An existing database keeps the size it was made with.
    static let pageSize = 16_384

    /// Creates an empty database file in WAL mode with `pageSize` pages. The size must be set before
    /// WAL mode, which `DatabasePool` turns on first thing.
    private static func create(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = \(pageSize)")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
        }
        try queue.close()
    }

    /// Copies the WAL into the database file now, after any copy already queued, and returns the
    /// seconds waited for both: for `veil ingest` before it exits, and benchmarks that report a
    /// write's whole cost.
    @discardableResult
    public func checkpoint() throws -> Double { try checkpointer.checkpointNow() }

    /// Runs `body` in a read-only transaction on one of the pool's readers and returns its result.
    ///
    /// Use this, not `pool.read`, from async code. GRDB's async `pool.read` holds its reader until the
    /// awaiting task resumes on the cooperative pool, while the synchronous `pool.read` of the stores
    /// with a synchronous API (models, ledger, settings) blocks a cooperative thread until a reader is
    /// free. With as many such blocked threads as cores, no task can resume to hand its reader back,
    /// and the process deadlocks (seen with concurrent `POST /v1/predict` on two cores). This read
    /// runs and releases its reader on GRDB's own queue, so it never waits for the cooperative pool.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pool.asyncRead { database in
                continuation.resume(with: Result { try body(try database.get()) })
            }
        }
    }

    /// The number of migrations this binary knows (`veil db status`).
    public static var migrationCount: Int { migrator.migrations.count }

    /// The number of migrations applied to the database file at `path`, read without migrating or
    /// writing anything (`veil db status`).
    public static func appliedMigrationCount(path: String) throws -> Int {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in try migrator.appliedMigrations(db).count }
        } catch {
            throw VeilError(.unavailable, field: path, "cannot read the database's schema version")
        }
    }

    /// All schema migrations, in the order they run. Each store registers its own.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for register in migrations { register(&migrator) }
        return migrator
    }

    /// The migration registrars, one per store, in order. Append new ones at the end.
    private static let migrations: [@Sendable (inout DatabaseMigrator) -> Void] = [
        EventSchema.registrar,
        SQLiteLedgerStore.registerMigrations,
        SQLiteModelStore.registerMigrations,
        SQLiteSettingsStore.registerMigrations,
        SQLiteTokenStore.registerMigrations,
    ]
}
