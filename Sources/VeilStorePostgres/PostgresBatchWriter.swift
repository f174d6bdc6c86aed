import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// Writes batches of events inside a caller's transaction (`PostgresEventStore`): the batch's new vault
/// rows, then its events through COPY into the connection's staging table (`incoming`) and one
/// statement that claims the new `event_id`s and moves exactly those events into `events`.
struct PostgresBatchWriter: Sendable {
    let logger: Logger

    /// Creates this connection's staging table once per session (`store` empties it after each batch,
    /// and a rolled-back transaction leaves it as it found it: empty).
    func prepareStaging(_ connection: PostgresConnection) async throws {
        try await connection.query(
            """
            CREATE TEMPORARY TABLE IF NOT EXISTS incoming AS
            SELECT \(unescaped: PostgresEventRow.columns.joined(separator: ", ")) FROM events WITH NO DATA
            """, logger: logger
        ).drain()
    }

    /// Writes one batch inside the caller's transaction and empties the staging table after it.
    func store(_ batch: EventBatchWrite, _ connection: PostgresConnection) async throws -> BatchCommit {
        guard !batch.events.isEmpty else { return BatchCommit() }
        // A repeated id within the batch is a duplicate of its first occurrence: only firsts are staged.
        var seen = Set<String>(minimumCapacity: batch.events.count)
        let firsts = batch.events.filter { seen.insert($0.eventID).inserted }
        var result = BatchCommit()
        result.newIdentities = try await storeIdentities(batch, connection)
        try await stage(firsts, connection)
        var inserted = 0
        // New ids are claimed in one order (byte order of the id) by every writer, so two
        // transactions resending the same ids wait for each other in one direction and never deadlock.
        let rows = try await connection.query(
            """
            WITH fresh AS (
                INSERT INTO event_ids (event_id) SELECT event_id FROM incoming ORDER BY event_id COLLATE "C"
                ON CONFLICT DO NOTHING RETURNING event_id
            ), moved AS (
                INSERT INTO events (\(unescaped: PostgresEventRow.columns.joined(separator: ", ")))
                SELECT \(unescaped: PostgresEventRow.columns.map { "i.\($0)" }.joined(separator: ", "))
                FROM incoming i JOIN fresh f ON f.event_id = i.event_id
                RETURNING 1
            )
            SELECT count(*) FROM moved
            """, logger: logger)
        for try await count in rows.decode(Int.self) { inserted = count }
        result.inserted = inserted
        result.duplicates = batch.events.count - inserted
        try await connection.query("TRUNCATE incoming", logger: logger).drain()
        return result
    }

    /// COPYs `events` into `incoming`.
    private func stage(_ events: [StoredEvent], _ connection: PostgresConnection) async throws {
        try await connection.copyFrom(table: "incoming", columns: PostgresEventRow.columns, logger: logger) { writer in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(Self.copyChunkBytes + 4_096)
            for event in events {
                PostgresEventRow.appendCopyLine(event, to: &buffer)
                if buffer.count >= Self.copyChunkBytes {
                    try await writer.write(ByteBuffer(bytes: buffer))
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            if !buffer.isEmpty { try await writer.write(ByteBuffer(bytes: buffer)) }
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
