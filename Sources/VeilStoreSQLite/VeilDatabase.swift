import Foundation
import GRDB
import Synchronization
import VeilCore

/// The SQLite database in the data directory (`<data-dir>/veil.sqlite`), opened in WAL mode with
/// `synchronous = FULL`, so a transaction that has returned is on disk and survives a crash.
///
/// Every table is created by a named migration in `VeilDatabase.migrator`; each store adds its own
/// migrations in its own file, and the migrator runs them in order at open. Every read and write of
/// the stores goes through `read` and `write`, which run on GRDB's queues (never blocking a
/// cooperative thread) and map failures to `VeilError` in one place (`SQLiteErrors`).
final class VeilDatabase: Sendable {
    /// The file name inside the data directory.
    static let fileName = "veil.sqlite"

    /// The connection pool: one writer, concurrent readers.
    let pool: DatabasePool
    let path: String
    /// The data directory, for messages ("the disk holding … is full").
    let directory: String
    /// Copies the WAL into the database file after an import's commit, off the commit's path.
    let checkpointer: WALCheckpointer
    /// The writer's page cache: larger during an import.
    private let writerCache = WriterCache()

    /// Opens (creating if needed) the database in `directory` and brings its schema up to date.
    init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VeilError(.unavailable, field: directory, "cannot create the data directory: \(error.localizedDescription)")
        }
        self.directory = directory
        path = (directory as NSString).appendingPathComponent(Self.fileName)
        checkpointer = WALCheckpointer(path: path)
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(VeilDatabase.cacheKiB)")
        }
        configuration.busyMode = .timeout(10)
        do {
            if !FileManager.default.fileExists(atPath: path) { try Self.create(path) }
            pool = try DatabasePool(path: path, configuration: configuration)
            let applied = try pool.read { db in try Self.migrator(madeBeforeTheChain: false).appliedIdentifiers(db) }
            // A database that has tables but not the chain's was made before the chain lived in the
            // store: its `audit.log` is imported once (`SQLiteAuditChain`'s migration marks it).
            let madeBeforeTheChain = !applied.isEmpty && !applied.contains(SQLiteAuditChain.migrationIdentifier)
            try Self.migrator(madeBeforeTheChain: madeBeforeTheChain).migrate(pool)
        } catch let error as VeilError {
            throw error
        } catch {
            let mapped = SQLiteErrors.map(error, operation: "open", directory: directory)
            if let mapped = mapped as? VeilError, mapped.code != .internal { throw mapped }
            throw VeilError(
                .unavailable, field: path, "cannot open the database: it is damaged or not a Veil database",
                cause: (mapped as? VeilError)?.cause)
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

    /// Runs `body` in a read-only transaction on one of the pool's readers and returns its result.
    ///
    /// GRDB's async `pool.read` holds its reader until the awaiting task resumes on the cooperative
    /// pool; with every cooperative thread busy, no task can resume to hand its reader back (seen with
    /// concurrent `POST /v1/predict` on two cores). This read runs and releases its reader on GRDB's
    /// own queue, so it never waits for the cooperative pool.
    func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                pool.asyncRead { database in
                    continuation.resume(with: Result { try body(try database.get()) })
                }
            }
        } catch {
            throw SQLiteErrors.map(error, operation: operation, directory: directory)
        }
    }

    /// Runs `body` in one IMMEDIATE write transaction on the writer's queue and returns its result once
    /// the commit is durable. Nothing of it is stored if it throws. An `import` transaction commits
    /// with SQLite's automatic checkpoint off and leaves the WAL's copy to the background
    /// (`WALCheckpointer`): its commit writes the whole import to the WAL at once.
    func write<T: Sendable>(
        _ operation: String, import: Bool = false, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        let checkpointer = checkpointer
        let writerCache = writerCache
        do {
            return try await withCheckedThrowingContinuation { continuation in
                pool.asyncWriteWithoutTransaction { db in
                    continuation.resume(
                        with: Result {
                            var value: T?
                            let transaction = {
                                try db.inTransaction(.immediate) {
                                    value = try body(db)
                                    return .commit
                                }
                            }
                            try writerCache.use(during: `import`, db)
                            if `import` {
                                try checkpointer.withoutAutomaticCheckpoint(db, transaction)
                            } else {
                                try transaction()
                            }
                            return value!
                        })
                }
            }
        } catch {
            throw SQLiteErrors.map(error, operation: operation, directory: directory)
        }
    }

    /// The page cache of every connection: 64 MiB (SQLite's default is 2 MiB). Bulk ingestion touches
    /// index pages all over the file, and a small cache turns each batch into reads and WAL spills.
    static let cacheKiB = 65_536

    /// The writer's page cache during an import: 256 MiB, from its first transaction until the next
    /// write that is not an import's, or `releaseImportCache` (`settle`, after an import). An import
    /// out of index order (grouped by user, random `event_id`s such as content keys or UUIDs) touches
    /// index pages all over the file; once they outgrow the cache, every insert reads a page back and
    /// spills another to the WAL. Measured on this schema (3 M events with random `event_id`s in
    /// transactions of 1 M, `docs/architecture.md`, "At scale"): 16.2 µs of CPU per event at 3 M with
    /// 64 MiB, 9.1 µs with 256 MiB. Bounded: an import's memory stays bounded whatever the file.
    static let importCacheKiB = 262_144

    /// Gives the writer's page cache back (`cacheKiB`) if an import left it at `importCacheKiB`; opens
    /// no transaction.
    func releaseImportCache() async throws {
        let writerCache = writerCache
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                pool.asyncWriteWithoutTransaction { db in
                    continuation.resume(with: Result { try writerCache.use(during: false, db) })
                }
            }
        } catch {
            throw SQLiteErrors.map(error, operation: "events.release_cache", directory: directory)
        }
    }

    /// Which page cache the writer connection has: `importCacheKiB` from an import's first transaction
    /// until the next other write.
    ///
    /// Kept between the transactions of an import, not set back after each: shrinking the cache freed
    /// its pages, and the next transaction allocated them again — on whichever dispatch thread ran it,
    /// in that thread's malloc arena — while the freed ones stayed resident in the arena of the thread
    /// before. Midway through a 4.7 M-event import in transactions of 50,000, glibc's arenas held 335 MB
    /// of which 111 MB were in use; kept, the import peaks at 375 MB instead of 573 MB
    /// (`docs/architecture.md`, "At scale"). Used only on the writer's queue.
    final class WriterCache: Sendable {
        private let importing = Mutex(false)

        /// Sets the writer's cache for a write that is (`import`) or is not an import's, if it has the
        /// other one.
        func use(during import: Bool, _ db: Database) throws {
            guard importing.withLock({ $0 }) != `import` else { return }
            try db.execute(sql: "PRAGMA cache_size = -\(`import` ? VeilDatabase.importCacheKiB : VeilDatabase.cacheKiB)")
            importing.withLock { $0 = `import` }
        }
    }

    /// The number of migrations applied to the database file at `path`, read without migrating or
    /// writing anything (`veil db status`).
    static func appliedMigrationCount(path: String) throws -> Int {
        var configuration = Configuration()
        configuration.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in try migrator(madeBeforeTheChain: false).appliedMigrations(db).count }
        } catch {
            throw VeilError(.unavailable, field: path, "cannot read the database's schema version")
        }
    }

    /// All schema migrations, in the order they run. Each store registers its own; `madeBeforeTheChain`
    /// tells the chain's migration to mark the existing `audit.log` for import.
    static func migrator(madeBeforeTheChain: Bool) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        EventSchema.registrar(&migrator)
        SQLiteLedgerStore.registerMigrations(&migrator)
        SQLiteModelStore.registerMigrations(&migrator)
        SQLiteSettingsStore.registerMigrations(&migrator)
        SQLiteTokenStore.registerMigrations(&migrator)
        // Appended after the above: the chain in the store, the spend ↔ record link, the key set, event
        // properties, the models' review columns.
        SQLiteAuditChain.registerMigrations(&migrator, madeBeforeTheChain: madeBeforeTheChain)
        SQLiteLedgerStore.registerChainLinkMigration(&migrator)
        SQLiteKeySetStore.registerMigrations(&migrator)
        EventSchema.registerPropertiesMigration(&migrator)
        SQLiteModelStore.registerReviewMigrations(&migrator)
        return migrator
    }
}

/// Runs blocking file work on a dispatch queue, never on a cooperative thread.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "veil.store.file-io", qos: .userInitiated, attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
