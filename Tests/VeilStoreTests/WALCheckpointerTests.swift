import Foundation
import GRDB
import Testing
@testable import VeilStore

/// The writer's commits no longer checkpoint inline; the background checkpointer copies the WAL into
/// the database file after them.
@Suite struct WALCheckpointerTests {
    static func fileSize(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// Writes 200 rows of 2 KB each, one transaction per row.
    static func write(_ pool: DatabasePool) throws {
        try pool.write { try $0.execute(sql: "CREATE TABLE t (payload BLOB)") }
        for _ in 0..<200 {
            try pool.write { try $0.execute(sql: "INSERT INTO t VALUES (randomblob(2000))") }
        }
    }

    static func rows(_ pool: DatabasePool) throws -> Int? {
        try pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM t") }
    }

    /// A pool whose writer reports to `checkpointer`, which the pool does not keep alive.
    static func open(_ path: String, install checkpointer: WALCheckpointer?) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.prepareDatabase { [weak checkpointer] db in
            if let checkpointer, !db.configuration.readonly { checkpointer.install(on: db) }
        }
        return try DatabasePool(path: path, configuration: configuration)
    }

    @Test(.timeLimit(.minutes(1)))
    func commitsAreCheckpointedInTheBackground() async throws {
        let dir = ScratchDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let path = dir.path + "/t.sqlite"
        _ = try Self.open(path, install: nil)  // creates the file in WAL mode
        let checkpointer = try WALCheckpointer(path: path, thresholdPages: 10)
        let pool = try Self.open(path, install: checkpointer)
        let before = Self.fileSize(path)
        try Self.write(pool)
        defer { withExtendedLifetime(checkpointer) {} }
        // 400 KB went into the WAL; the background checkpoints copy it into the database file.
        var after = Self.fileSize(path)
        for _ in 0..<100 where after < before + 300_000 {
            try await Task.sleep(for: .milliseconds(50))
            after = Self.fileSize(path)
        }
        #expect(after >= before + 300_000, "database file \(before) → \(after) bytes")
        #expect(try Self.rows(pool) == 200)
    }

    /// The same writes with the hook installed but the checkpointer gone: nothing checkpoints (the
    /// automatic checkpoint stays replaced), and nothing crashes.
    @Test func aHookOutlivingItsCheckpointerDoesNothing() throws {
        let dir = ScratchDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let path = dir.path + "/t.sqlite"
        _ = try Self.open(path, install: nil)
        var checkpointer: WALCheckpointer? = try WALCheckpointer(path: path, thresholdPages: 10)
        let pool = try Self.open(path, install: checkpointer)
        try pool.write { _ in }  // opens the writer, installing the hook
        checkpointer = nil
        let before = Self.fileSize(path)
        try Self.write(pool)
        #expect(Self.fileSize(path) < before + 100_000)
        #expect(try Self.rows(pool) == 200)
    }
}
