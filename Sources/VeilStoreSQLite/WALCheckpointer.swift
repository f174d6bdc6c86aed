import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database file on a queue and connection of its own.
///
/// Ordinary commits keep SQLite's automatic checkpoint: the commit that makes the WAL reach 1,000
/// pages copies it into the database file, so the WAL stays small however busy the writer is. (A
/// checkpointer that only ever ran beside the writer never caught up with a gateway committing without
/// pause: the WAL reached 1.4–2 GB during 1.5 M events pushed over HTTP.) The one exception is the
/// single transaction of an import (`SQLiteEventStore.commitAll`): its commit writes the whole import
/// to the WAL at once, and copying that — 0.7–1.0 s per million events — would hold the commit. It
/// commits with the automatic checkpoint off and hands the copy to `checkpointSoon`.
///
/// SQLite starts the WAL over only when a transaction begins after every frame has been copied. An
/// import's next transaction begins as soon as the last one commits (`EventImporter` feeds it during
/// the commit), before the copy queued after that commit has run, so without more the WAL would grow
/// by every transaction of the import: about 220 bytes an event, 2.2 GB at 10 M events, 4.5 GB at
/// 20 M (`scripts/sqlite_insert_probe.c`, `CKPT=bg`). So once it has passed `restartBytes`, an import
/// transaction first waits for the copy (`checkpointNow`: by then only the last transaction's frames
/// are left, 0.1–0.3 s) and then writes the WAL from its start.
///
/// Durability does not depend on checkpoints: a commit is durable once its WAL frames are fsynced
/// (`synchronous = FULL`), and SQLite replays an un-checkpointed WAL at the next open.
final class WALCheckpointer: Sendable {
    /// SQLite's automatic checkpoint threshold (pages), restored after an import's commit.
    static let automaticPages: Int32 = 1_000

    /// The WAL's size past which an import transaction waits for the copy, so that it writes the WAL
    /// from its start: the most disk an import's WAL takes beyond one transaction's frames.
    static let restartBytes = 512 << 20

    private let path: String
    private let restartBytes: Int
    /// Opened by the first checkpoint (most processes never import, and need no second connection).
    /// Used only on `queue`.
    private let connection = Mutex<DatabaseQueue?>(nil)
    private let queue = DispatchQueue(label: "veil.wal-checkpoint", qos: .utility)

    /// Checkpoints the database at `path` (which must exist, in WAL mode) through a connection of its
    /// own; `restartBytes` is for tests.
    init(path: String, restartBytes: Int = WALCheckpointer.restartBytes) {
        self.path = path
        self.restartBytes = restartBytes
    }

    /// Runs `transaction` on the writer connection `db` with the automatic checkpoint off, so its
    /// commit does not copy the WAL, then turns it back on and queues the copy. If the WAL has grown
    /// past `restartBytes`, first waits for the copy, so that `transaction` writes the WAL from its
    /// start (unless a reader still reads an older snapshot). Call outside any transaction of `db`.
    func withoutAutomaticCheckpoint<T>(_ db: Database, _ transaction: () throws -> T) throws -> T {
        if walBytes() > restartBytes {
            _ = try? checkpointNow()  // a failure leaves the WAL growing, as before, not the import failing
        }
        sqlite3_wal_autocheckpoint(db.sqliteConnection, 0)
        defer {
            sqlite3_wal_autocheckpoint(db.sqliteConnection, Self.automaticPages)
            checkpointSoon()
        }
        return try transaction()
    }

    /// Runs a checkpoint now, after any queued one, and waits for both; returns the seconds waited.
    @discardableResult
    func checkpointNow() throws -> Double {
        let start = ContinuousClock.now
        try queue.sync { try checkpoint() }
        return (ContinuousClock.now - start).seconds
    }

    /// The size of the WAL file (0 if there is none). SQLite never shrinks it: it is the WAL's largest.
    func walBytes() -> Int {
        var info = stat()
        return stat(path + "-wal", &info) == 0 ? Int(info.st_size) : 0
    }

    /// Queues a checkpoint. A failure (e.g. the disk) leaves the WAL to the next automatic checkpoint.
    func checkpointSoon() {
        queue.async { try? self.checkpoint() }
    }

    /// A PASSIVE checkpoint through this checkpointer's connection; call on `queue`.
    private func checkpoint() throws {
        let database = try connection.withLock { connection in
            if let connection { return connection }
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.label = "veil.wal-checkpoint"
            let opened = try DatabaseQueue(path: path, configuration: configuration)
            connection = opened
            return opened
        }
        _ = try database.writeWithoutTransaction { try $0.checkpoint(.passive) }
    }
}
