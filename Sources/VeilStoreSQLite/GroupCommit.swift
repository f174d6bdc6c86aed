import Foundation
import GRDB
import VeilCore
import VeilStore

/// Group commit of event batches (`GroupCommitQueue`): batches that arrive while a write transaction
/// is running wait, and the next transaction stores all of them (up to `maxEvents` events), so
/// concurrent writers share one WAL write and one fsync instead of queueing for one each.
/// Random-keyed index pages that several batches touch are then written once per group, not once per
/// batch.
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
enum GroupCommitter {
    /// The queue of `SQLiteEventStore.commit`: each group is one write transaction of up to
    /// `maxEvents` events.
    static func make(database: VeilDatabase, writer: EventWriter, chain: SQLiteAuditChain, maxEvents: Int = 50_000)
        -> GroupCommitQueue<EventBatchWrite, BatchCommit>
    {
        GroupCommitQueue(weight: { $0.events.count }, maxWeight: maxEvents) { batches in
            do {
                return try await database.write("events.commit") { db in
                    try writer.writing(in: db) { store in
                        try batches.map { batch in
                            let result = try store(batch)
                            if let audit = batch.audit { try chain.append(audit(result), in: db) }
                            return Result<BatchCommit, any Error>.success(result)
                        }
                    }
                }
            } catch {
                writer.transactionFailed()
                throw error
            }
        }
    }
}
