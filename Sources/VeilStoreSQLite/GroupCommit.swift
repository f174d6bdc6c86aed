import Foundation
import GRDB
import VeilCore
import VeilStore

/// Group commit: batches that arrive while a write transaction is running wait, and the next
/// transaction stores all of them (up to `maxEvents` events), so concurrent writers share one WAL
/// write and one fsync instead of queueing for one each. Random-keyed index pages that several
/// batches touch are then written once per group, not once per batch.
///
/// Contract (what `EventStore.commit` promises, kept per batch):
/// - a batch's result is returned only after the COMMIT of the transaction holding it has returned
///   (with `synchronous = FULL`: after the fsync), so an acknowledged batch is durable;
/// - a group is one transaction, so each of its batches is stored whole or not at all; if anything in
///   the transaction fails, every batch of the group gets that error and none of them is stored
///   (the only errors left at this point are the store's own, which a retry may cure);
/// - batches are written in arrival order, so a repeated `event_id` counts as a duplicate in the
///   later batch, as it would with one transaction per batch;
/// - each batch's `ingest.batch` record is sealed right after the batch, in the group's transaction.
final class GroupCommitter: @unchecked Sendable {
    private typealias Waiter = (batch: EventBatchWrite, continuation: CheckedContinuation<BatchCommit, any Error>)

    private let database: VeilDatabase
    private let writer: EventWriter
    private let chain: SQLiteAuditChain
    private let maxEvents: Int
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var waiting: [Waiter] = []
    private var writing = false

    /// - Parameter maxEvents: a group stops growing at this many events (it always holds at least one batch).
    init(database: VeilDatabase, writer: EventWriter, chain: SQLiteAuditChain, maxEvents: Int = 50_000) {
        self.database = database
        self.writer = writer
        self.chain = chain
        self.maxEvents = maxEvents
    }

    /// Stores `batch` in the next group transaction and returns what it did, after that transaction committed.
    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = lock.withLock {
                waiting.append((batch, continuation))
                if writing { return false }
                writing = true
                return true
            }
            if startWriter { Task.detached { await self.writeGroups() } }
        }
    }

    /// Writes groups until no batch is waiting; only one runs at a time (`writing`).
    private func writeGroups() async {
        while let group = nextGroup() {
            let batches = group.map(\.batch)
            let writer = writer
            let chain = chain
            do {
                let results = try await database.write("events.commit") { db in
                    try writer.writing(in: db) { store in
                        try batches.map { batch in
                            let result = try store(batch)
                            if let audit = batch.audit { try chain.append(audit(result), in: db) }
                            return result
                        }
                    }
                }
                for (waiter, result) in zip(group, results) { waiter.continuation.resume(returning: result) }
            } catch {
                writer.transactionFailed()
                for waiter in group { waiter.continuation.resume(throwing: error) }
            }
        }
    }

    /// Takes the next group off the queue, or ends the writer's turn (nil) when the queue is empty.
    private func nextGroup() -> [Waiter]? {
        lock.withLock {
            guard !waiting.isEmpty else {
                writing = false
                return nil
            }
            var count = 0
            var events = 0
            for waiter in waiting {
                if count > 0 && events + waiter.batch.events.count > maxEvents { break }
                count += 1
                events += waiter.batch.events.count
            }
            let group = Array(waiting.prefix(count))
            waiting.removeFirst(count)
            return group
        }
    }
}
