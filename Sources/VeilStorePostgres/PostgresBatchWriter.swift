import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// Writes batches of events inside a caller's transaction (`PostgresEventStore`): the batch's new vault
/// rows, then one statement that claims the batch's new `event_id`s in `event_ids`, then exactly those
/// events straight into `events` through COPY.
struct PostgresBatchWriter: Sendable {
    let logger: Logger

    /// Writes one batch inside the caller's transaction.
    func store(_ batch: EventBatchWrite, _ connection: PostgresConnection) async throws -> BatchCommit {
        guard !batch.events.isEmpty else { return BatchCommit() }
        // A repeated id within the batch is a duplicate of its first occurrence: only firsts are claimed.
        var seen = Set<String>(minimumCapacity: batch.events.count)
        let firsts = batch.events.filter { seen.insert($0.eventID).inserted }
        var result = BatchCommit()
        result.newIdentities = try await storeIdentities(batch, connection)
        let claimed = try await claim(firsts.map(\.eventID), connection)
        let fresh = claimed.count == firsts.count ? firsts : firsts.filter { claimed.contains($0.eventID) }
        try await copy(fresh, connection)
        result.inserted = fresh.count
        result.duplicates = batch.events.count - fresh.count
        return result
    }

    /// Inserts `ids` into `event_ids` and returns those that were not there: the events this batch
    /// stores. The row of an id that another open transaction has claimed makes this statement wait
    /// for it — a duplicate if it commits, this batch's if it rolls back — so no id is stored twice.
    /// New ids are claimed in one order (byte order of the id) by every writer, so two transactions
    /// resending the same ids wait for each other in one direction and never deadlock.
    private func claim(_ ids: [String], _ connection: PostgresConnection) async throws -> Set<String> {
        let rows = try await connection.query(
            """
            INSERT INTO event_ids (event_id) SELECT id FROM unnest(\(ids)::text[]) AS batch(id) ORDER BY id COLLATE "C"
            ON CONFLICT DO NOTHING RETURNING event_id
            """, logger: logger)
        var claimed = Set<String>(minimumCapacity: ids.count)
        for try await id in rows.decode(String.self) { claimed.insert(id) }
        return claimed
    }

    /// COPYs `events` into `events` (the server routes each row to its day's partition), sent in
    /// pieces of about `copyChunkBytes`.
    private func copy(_ events: [StoredEvent], _ connection: PostgresConnection) async throws {
        guard !events.isEmpty else { return }
        try await connection.copyFrom(table: "events", columns: PostgresEventRow.columns, logger: logger) { writer in
            var buffer = ByteBuffer()
            buffer.reserveCapacity(Self.copyChunkBytes + 4_096)
            for event in events {
                PostgresEventRow.appendCopyLine(event, to: &buffer)
                if buffer.readableBytes >= Self.copyChunkBytes {
                    try await writer.write(buffer)
                    buffer = ByteBuffer()
                    buffer.reserveCapacity(Self.copyChunkBytes + 4_096)
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
    }

    /// COPY data is sent in pieces of about this many bytes.
    static let copyChunkBytes = 256 * 1024

    /// Creates vault rows for the batch's pseudonyms that have none (one lookup and one insert per
    /// batch); returns how many it created.
    private func storeIdentities(_ batch: EventBatchWrite, _ connection: PostgresConnection) async throws -> Int {
        let pseudonyms = Set(batch.events.map(\.pseudonym))
        var existing = Set<Pseudonym>()
        let rows = try await connection.query(
            "SELECT pid FROM vault WHERE pid = ANY(\(pseudonyms.map { ByteBuffer(bytes: $0.bytes) }))", logger: logger)
        for try await pid in rows.decode(ByteBuffer.self) {
            if let pseudonym = PostgresEventRow.pseudonym(pid) { existing.insert(pseudonym) }
        }
        // In pseudonym order, as every writer does: two transactions creating the same rows take their
        // locks in the same order and cannot deadlock.
        let missing = pseudonyms.subtracting(existing).sorted()
        guard !missing.isEmpty else { return 0 }
        let key = batch.dataKey
        try await connection.query(
            "INSERT INTO data_keys (id, sealed, created) VALUES (\(key.id), \(Data(key.sealed)), \(key.created)) ON CONFLICT (id) DO NOTHING",
            logger: logger
        ).drain()
        let records = try missing.map { pseudonym in try CallerError.marking { try batch.escrow(pseudonym) } }
        var created = 0
        for try await count in try await connection.query(
            """
            WITH made AS (
                INSERT INTO vault (pid, epoch, data_key_id, nonce, ciphertext)
                SELECT * FROM unnest(
                    \(records.map { ByteBuffer(bytes: $0.pseudonym.bytes) })::bytea[], \(records.map { Int64($0.epoch) })::bigint[],
                    \(records.map(\.dataKeyID))::text[], \(records.map { ByteBuffer(bytes: $0.nonce) })::bytea[],
                    \(records.map { ByteBuffer(bytes: $0.ciphertext) })::bytea[])
                ON CONFLICT (pid) DO NOTHING RETURNING 1
            )
            SELECT count(*) FROM made
            """, logger: logger
        ).decode(Int.self) { created = count }
        return created
    }
}
