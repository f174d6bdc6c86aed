import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log back into the database file on a background queue, so no commit waits
/// for it.
///
/// SQLite's automatic checkpoint runs inside whichever commit makes the WAL reach 1,000 pages: that
/// commit (an HTTP batch, or the one transaction of an import) then also copies the whole WAL into the
/// database file and fsyncs it — 0.75 s after the commit of a million imported events. Here the
/// writer's WAL hook (called by SQLite after each commit with the WAL's size) schedules a PASSIVE
/// checkpoint on its own connection and queue instead: it copies what no reader still needs without
/// blocking the writer or readers, and the writer starts the WAL over once a checkpoint has caught up.
/// Durability does not depend on it: a commit is durable once its WAL frames are fsynced
/// (`synchronous = FULL`), and SQLite replays an un-checkpointed WAL at the next open.
final class WALCheckpointer: Sendable {
    /// WAL size (pages) at which a checkpoint is scheduled: SQLite's own default.
    static let defaultThresholdPages: Int32 = 1_000

    let thresholdPages: Int32
    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "veil.wal-checkpoint", qos: .utility)
    private let scheduled = Mutex(false)

    /// Opens a connection of its own to the database at `path` (which must exist, in WAL mode).
    init(path: String, thresholdPages: Int32 = WALCheckpointer.defaultThresholdPages) throws {
        self.thresholdPages = thresholdPages
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "veil.wal-checkpoint"
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Makes `db` (the writer's connection) report its commits here instead of checkpointing itself.
    func install(on db: Database) {
        let signal = Unmanaged.passRetained(Signal(self)).toOpaque()
        // Replaces SQLite's automatic checkpoint (itself a WAL hook). The signal is retained for the
        // life of the process (a few bytes per database opened) and holds this object weakly, so the
        // hook is safe whichever of the connection and the checkpointer goes first.
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, _, _, pages in
                if let context, let checkpointer = Unmanaged<Signal>.fromOpaque(context).takeUnretainedValue().checkpointer,
                    pages >= checkpointer.thresholdPages
                {
                    checkpointer.schedule()
                }
                return SQLITE_OK
            }, signal)
    }

    /// Runs a checkpoint now and waits for it; returns the seconds it took.
    @discardableResult
    func checkpointNow() throws -> Double {
        try queue.sync {
            let start = ContinuousClock.now
            _ = try connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
            return (ContinuousClock.now - start).seconds
        }
    }

    /// Queues one checkpoint unless one is already waiting to run.
    private func schedule() {
        let first = scheduled.withLock { pending in
            defer { pending = true }
            return !pending
        }
        guard first else { return }
        queue.async {
            self.scheduled.withLock { $0 = false }
            // A failure (e.g. the disk) leaves the WAL as it is; the next commit schedules another try.
            _ = try? self.connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
        }
    }

    /// What the WAL hook holds: a weak reference, so the hook outliving the checkpointer is harmless.
    private final class Signal: Sendable {
        weak let checkpointer: WALCheckpointer?
        init(_ checkpointer: WALCheckpointer) { self.checkpointer = checkpointer }
    }
}
