import Foundation
import GRDB
import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// An import's transaction commits without SQLite's automatic checkpoint; the automatic checkpoint is
/// back on afterwards for ordinary commits, and the copy into the database file still happens.
@Suite struct WALCheckpointerTests {
    static func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    @Test func theAutomaticCheckpointIsBackOnAndTheCopyIsMade() throws {
        let dir = ScratchDirectory()
        let database = try VeilDatabase(directory: dir.path)
        let before = Self.fileSize(database.path)
        // About 6 MB in one transaction: 400 pages of 16 KiB.
        let setting = try database.pool.writeWithoutTransaction { db in
            try database.checkpointer.withoutAutomaticCheckpoint(db) {
                try db.inTransaction {
                    try db.execute(sql: "CREATE TABLE t (payload BLOB)")
                    for _ in 0..<3_000 { try db.execute(sql: "INSERT INTO t VALUES (randomblob(2000))") }
                    return .commit
                }
            }
            return try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint")
        }
        #expect(setting == Int(WALCheckpointer.automaticPages))
        try database.checkpointer.checkpointNow()
        #expect(Self.fileSize(database.path) >= before + 6_000_000)
        #expect(try database.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM t") } == 3_000)
    }

    /// Import transactions one right after another (as `EventImporter` runs them: the next fed while
    /// the last commits) begin before the copy queued after the last commit has run, so SQLite never
    /// starts the WAL over and it grows by every transaction (here about 50 MB: 20 transactions of
    /// about 2.5 MB). Past `restartBytes` a transaction waits for the copy first and writes the WAL
    /// from its start: the WAL's largest size stays within `restartBytes` and one transaction.
    @Test func importTransactionsOneAfterAnotherStartTheWALOverPastItsRestartSize() throws {
        let dir = ScratchDirectory()
        let database = try VeilDatabase(directory: dir.path)
        let restartBytes = 4 << 20
        let checkpointer = WALCheckpointer(path: database.path, restartBytes: restartBytes)
        let largest = try database.pool.writeWithoutTransaction { db in
            try db.execute(sql: "CREATE TABLE t (payload BLOB)")
            var largest = 0
            for _ in 0..<20 {
                try checkpointer.withoutAutomaticCheckpoint(db) {
                    try db.inTransaction {
                        for _ in 0..<150 { try db.execute(sql: "INSERT INTO t VALUES (randomblob(16000))") }
                        return .commit
                    }
                }
                largest = max(largest, checkpointer.walBytes())
            }
            return largest
        }
        #expect(largest > restartBytes, "the WAL passed its restart size")
        #expect(largest < restartBytes + (4 << 20), "the WAL's largest: \(largest) bytes")
        try checkpointer.checkpointNow()
        #expect(try database.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM t") } == 3_000)
    }

    @Test func aFailedTransactionAlsoTurnsItBackOn() throws {
        struct Boom: Error {}
        let dir = ScratchDirectory()
        let database = try VeilDatabase(directory: dir.path)
        let (failed, setting) = try database.pool.writeWithoutTransaction { db in
            let failed: Bool
            do {
                try database.checkpointer.withoutAutomaticCheckpoint(db) { throw Boom() }
                failed = false
            } catch {
                failed = error is Boom
            }
            return (failed, try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint"))
        }
        #expect(failed)
        #expect(setting == Int(WALCheckpointer.automaticPages))
    }
}

/// An import's transactions run with the writer's larger, bounded page cache (`importCacheKiB`), kept
/// from one of its transactions to the next (shrinking it in between freed its pages, and the next
/// transaction allocated them again in another thread's malloc arena); the writer goes back to the
/// ordinary one at its next other write — also after a failed import — and when the store settles, so
/// the cache an import needs is not kept by a server that goes on committing small batches.
@Suite struct ImportCacheTests {
    static func cacheSize(_ db: Database) throws -> Int? { try Int.fetchOne(db, sql: "PRAGMA cache_size") }

    /// The writer connection's cache as it is between transactions, read without a `VeilDatabase.write`.
    static func writerCacheSize(_ database: VeilDatabase) throws -> Int? {
        try database.pool.writeWithoutTransaction { try cacheSize($0) }
    }

    @Test func theLargerCacheStaysBetweenAnImportsTransactionsUntilTheStoreSettles() async throws {
        let dir = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: dir.path)
        for part in 0..<2 {
            let batches = EventBatchStream()
            batches.send(batch((0..<100).map { event("e\(part)-\($0)", UInt64($0 % 7), at: Int64($0) * 1_000) }))
            batches.finish()
            let stored = try await fixture.events.commitAll(batches, stored: { _ in }, audit: { _ in
                AuditDraft(actor: "test", action: .ingestBatch, details: [:])
            })
            #expect(stored.inserted == 100)
            #expect(try Self.writerCacheSize(fixture.database) == -VeilDatabase.importCacheKiB)
        }
        _ = try await fixture.events.settle()
        #expect(try Self.writerCacheSize(fixture.database) == -VeilDatabase.cacheKiB)
        #expect(try await fixture.events.eventCount() == 200)
    }

    @Test func anImportTransactionHasTheLargerCacheAndGivesItBack() async throws {
        struct Boom: Error {}
        let dir = ScratchDirectory()
        let database = try VeilDatabase(directory: dir.path)
        #expect(try await database.write("test") { try ImportCacheTests.cacheSize($0) } == -VeilDatabase.cacheKiB)
        #expect(try await database.write("test", import: true) { try ImportCacheTests.cacheSize($0) } == -VeilDatabase.importCacheKiB)
        #expect(try await database.write("test") { try ImportCacheTests.cacheSize($0) } == -VeilDatabase.cacheKiB)
        await #expect(throws: (any Error).self) { try await database.write("test", import: true) { _ in throw Boom() } }
        #expect(try await database.write("test") { try ImportCacheTests.cacheSize($0) } == -VeilDatabase.cacheKiB)
    }
}
