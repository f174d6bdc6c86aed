import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// Writes batches of events inside a caller's transaction (`PostgresEventStore`), several batches at a
/// time as one write unit: the unit's new `event_id`s claimed in `event_ids`, then exactly those events
/// straight into `events` through COPY, then the unit's new vault rows. Every writer takes the rows
/// that concurrent writers may share in that order — ids (in byte order), data keys, vault rows (in
/// pseudonym order), then the chain's head — so two transactions of one unit each never wait for each
/// other in a circle. Each batch's result is what writing
/// the batches one after another in that order would give (a repeated `event_id` is a duplicate in
/// the later batch; a new vault row counts for the first batch that holds its pseudonym).
///
/// What the server spends per event (measured, `docs/deploy.md`) decides the shape:
/// - The ids are claimed by a plain COPY into `event_ids` under a savepoint: about 1.3 µs of backend
///   CPU per id, where `INSERT … ON CONFLICT DO NOTHING RETURNING` (a speculative insertion per row,
///   each id looked up twice) cost about 6 µs. A COPY meeting an id that is stored already fails
///   (unique violation) without writing anything; the unit then rolls back to the savepoint and claims
///   with `ON CONFLICT DO NOTHING`, which skips the stored ids and returns the new ones. Either way
///   an id that another open transaction holds makes the statement wait for it (a duplicate if it
///   commits, this unit's if it rolls back), so no id is stored twice.
/// - The events are COPYed in pseudonym order (a user's events in their batch order, so `seq` still
///   orders a user's events by arrival): consecutive rows then land on the same leaves of the day's
///   (pid, ts_ms, seq) index, which costs about a third less than inserting in arrival order.
/// - One unit for many batches: one lookup of the vault, one claim and one COPY, however many batches
///   the gateway grouped or the import handed over.
struct PostgresBatchWriter: Sendable {
    let logger: Logger

    /// An import's unit takes the batches waiting behind its first one until it holds this many events.
    static let unitEvents = 50_000

    /// A transaction claims by COPY (each claim a subtransaction) at most this many times; later units
    /// claim with `ON CONFLICT DO NOTHING`. PostgreSQL keeps the subtransactions of an open transaction
    /// in a cache of 64; past that every other session's snapshot looks them up on disk while it runs.
    static let copyClaimsPerTransaction = 48

    /// Writes `batches`, in order, as one unit inside the caller's transaction; one result per batch.
    /// `copyClaim`: whether the ids may be claimed by COPY under a savepoint (see the type's comment).
    /// `vault`: an import's knowledge of vault rows (`VaultTransaction`): only the pseudonyms it does
    /// not know are looked up, and those are added to it; nil looks up every pseudonym of the unit.
    ///
    /// The unit's events are named by their place (batch, index) and read where they are, never
    /// copied into arrays of their own: a unit of a gateway group copied each event three times.
    func store(
        _ batches: [EventBatchWrite], _ connection: PostgresConnection, copyClaim: Bool, vault: inout VaultTransaction?
    ) async throws -> [BatchCommit] {
        var results = batches.map { _ in BatchCommit() }
        let events = batches.map(\.events)
        let count = events.reduce(0) { $0 + $1.count }
        guard count > 0 else { return results }
        // The unit's ids in byte order, equal ids in arrival order: a repeated id is a duplicate of its
        // first occurrence, the first of its run; only firsts are claimed, in that order. Ids are equal
        // only byte for byte, as in `event_ids` (`COLLATE "C"`): Swift's `==` on `String` (canonical
        // equivalence) took "é" and "e\u{301}" for one id.
        var byID: [(id: String, position: Int)] = []
        byID.reserveCapacity(count)
        var unit: [UnitEvent] = []
        unit.reserveCapacity(count)
        for (batch, batchEvents) in events.enumerated() {
            for (index, event) in batchEvents.enumerated() {
                byID.append((event.eventID, unit.count))
                unit.append(UnitEvent(batch: batch, index: index))
            }
        }
        byID.sort { a, b in
            let order = ExactText.order(a.id, b.id)
            return order != 0 ? order < 0 : a.position < b.position
        }
        // For each event, its id's place among the claimed ids when it is the first with that id.
        var claimIndex = [Int?](repeating: nil, count: count)
        var firstIDs: [String] = []
        firstIDs.reserveCapacity(count)
        for (id, position) in byID where firstIDs.last.map({ ExactText.order($0, id) != 0 }) ?? true {
            claimIndex[position] = firstIDs.count
            firstIDs.append(id)
        }
        let claimed = try await claim(firstIDs, connection, copyClaim: copyClaim)
        var fresh: [UnitEvent] = []
        fresh.reserveCapacity(firstIDs.count)
        for (position, event) in unit.enumerated() {
            guard let index = claimIndex[position], claimed?[index] ?? true else { continue }
            fresh.append(event)
            results[event.batch].inserted += 1
        }
        for batch in results.indices { results[batch].duplicates = events[batch].count - results[batch].inserted }
        try await copy(Self.inPseudonymOrder(fresh.map { events[$0.batch][$0.index].pseudonym }).map { fresh[$0] }, of: events, connection)
        // The vault last: a row another open transaction has just created (a new user in a unit of the
        // same import on another connection) makes this insert wait for that transaction's end, and
        // here the wait comes after this unit's claim and COPY instead of before them.
        for (index, count) in try await storeIdentities(batches, connection, vault: &vault).enumerated() {
            results[index].newIdentities = count
        }
        return results
    }

    /// `store` looking up every pseudonym of the unit in `vault` (the gateway's groups).
    func store(_ batches: [EventBatchWrite], _ connection: PostgresConnection, copyClaim: Bool) async throws -> [BatchCommit] {
        var everyPseudonym: VaultTransaction? = nil
        return try await store(batches, connection, copyClaim: copyClaim, vault: &everyPseudonym)
    }

    /// An event of a unit: `events[batch][index]`.
    struct UnitEvent {
        var batch: Int
        var index: Int
    }

    /// The indices of `pseudonyms` sorted by pseudonym, each pseudonym's indices in ascending order.
    static func inPseudonymOrder(_ pseudonyms: [Pseudonym]) -> [Int] {
        pseudonyms.indices.sorted { a, b in pseudonyms[a] != pseudonyms[b] ? pseudonyms[a] < pseudonyms[b] : a < b }
    }

    /// Claims `ordered` (distinct ids in `ExactText.order`) in `event_ids`; returns, for each, whether it was
    /// not there (nil: none was). Every writer claims in that order: two transactions claiming the same
    /// ids wait for each other in one direction and never deadlock over one unit.
    private func claim(_ ordered: [String], _ connection: PostgresConnection, copyClaim: Bool) async throws -> [Bool]? {
        guard !ordered.isEmpty else { return nil }
        guard copyClaim else { return try await claimNew(ordered, connection) }
        try await connection.query("SAVEPOINT veil_claim", logger: logger).drain()
        do {
            try await connection.copyFrom(table: "event_ids", columns: ["event_id"], logger: logger) { writer in
                try await Self.send(ordered, to: writer) { id, buffer in
                    PostgresEventRow.text(id, &buffer)
                    buffer.writeInteger(UInt8(ascii: "\n"))
                }
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == Self.uniqueViolation {
            // Some id is stored already: nothing of the COPY was; claim the new ones only.
            try await connection.query("ROLLBACK TO SAVEPOINT veil_claim", logger: logger).drain()
            try await connection.query("RELEASE SAVEPOINT veil_claim", logger: logger).drain()
            return try await claimNew(ordered, connection)
        }
        try await connection.query("RELEASE SAVEPOINT veil_claim", logger: logger).drain()
        return nil
    }

    static let uniqueViolation = "23505"

    /// Inserts `ordered` (distinct, in `ExactText.order`) into `event_ids`, skipping those stored already;
    /// returns, for each, whether it was inserted.
    private func claimNew(_ ordered: [String], _ connection: PostgresConnection) async throws -> [Bool] {
        let rows = try await connection.query(
            """
            INSERT INTO event_ids (event_id) SELECT id FROM unnest(\(ordered)::text[]) WITH ORDINALITY AS batch(id, n) ORDER BY n
            ON CONFLICT DO NOTHING RETURNING event_id
            """, logger: logger)
        var claimed = [Bool](repeating: false, count: ordered.count)
        for try await id in rows.decode(String.self) {
            guard let index = Self.index(of: id, in: ordered) else {
                throw VeilError(.integrity, field: "event_ids", "the claim returned an id the unit does not hold")
            }
            claimed[index] = true
        }
        return claimed
    }

    /// Where `id` is in `ordered` (distinct, in `ExactText.order`), by binary search; nil when it is not there.
    static func index(of id: String, in ordered: [String]) -> Int? {
        var low = 0
        var high = ordered.count
        while low < high {
            let middle = (low + high) / 2
            switch ExactText.order(ordered[middle], id) {
            case 0: return middle
            case ..<0: low = middle + 1
            default: high = middle
            }
        }
        return nil
    }

    /// COPYs the events `unit` names, in its order, into `events` (the server routes each row to its
    /// day's partition).
    private func copy(_ unit: [UnitEvent], of events: [[StoredEvent]], _ connection: PostgresConnection) async throws {
        guard !unit.isEmpty else { return }
        try await connection.copyFrom(table: "events", columns: PostgresEventRow.columns, logger: logger) { writer in
            try await Self.send(unit, to: writer) { event, buffer in
                PostgresEventRow.appendCopyLine(events[event.batch][event.index], to: &buffer)
            }
        }
    }

    /// Sends one COPY text line per element, in pieces of about `copyChunkBytes`.
    private static func send<Element>(
        _ elements: [Element], to writer: PostgresCopyFromWriter, line: (Element, inout ByteBuffer) -> Void
    ) async throws {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(copyChunkBytes + 4_096)
        for element in elements {
            line(element, &buffer)
            if buffer.readableBytes >= copyChunkBytes {
                try await writer.write(buffer)
                buffer = ByteBuffer()
                buffer.reserveCapacity(copyChunkBytes + 4_096)
            }
        }
        if buffer.readableBytes > 0 { try await writer.write(buffer) }
    }

    /// COPY data is sent in pieces of about this many bytes.
    static let copyChunkBytes = 256 * 1024

    /// Creates vault rows for the unit's pseudonyms that have none (one lookup and one insert), each
    /// escrowed by the first batch that holds it; returns how many rows it created for each batch.
    /// Pseudonyms `vault` knows are not looked up; those looked up are established in it.
    ///
    /// The lookup returns only the pseudonyms the vault lacks: once a shop's users are known that is
    /// none of a unit's thousands, where returning those it holds sent every one back to be decoded.
    private func storeIdentities(
        _ batches: [EventBatchWrite], _ connection: PostgresConnection, vault: inout VaultTransaction?
    ) async throws -> [Int] {
        // Each distinct pseudonym of the unit once, with the first batch that holds it (the one that
        // escrows it), or `knownRow` where `vault` knows it has a row. One table, sized for the unit:
        // growing a table, then filtering it into another, rehashed every pseudonym of every unit
        // (4.6 % of the samples of `veil ingest --batch-size 50000`, client and server; 3.2 % since).
        let events = batches.reduce(0) { $0 + $1.events.count }
        var firstBatch = [Pseudonym: Int](minimumCapacity: events)
        vault?.reserveCapacity(forUnitOf: events)
        var lookups: [Pseudonym] = []
        for (index, batch) in batches.enumerated() {
            for event in batch.events where firstBatch[event.pseudonym] == nil {
                let needed = vault?.needsLookup(event.pseudonym) ?? true
                firstBatch[event.pseudonym] = needed ? index : Self.knownRow
                if needed { lookups.append(event.pseudonym) }
            }
        }
        defer { vault?.establish(lookups) }  // each has a row once this returns (else the transaction fails)
        var created = batches.map { _ in 0 }
        guard !lookups.isEmpty else { return created }
        var missing: [Pseudonym] = []
        let rows = try await connection.query(
            """
            SELECT unit.pid FROM unnest(\(lookups.map { ByteBuffer(bytes: $0.bytes) })::bytea[]) AS unit(pid)
            WHERE NOT EXISTS (SELECT 1 FROM vault WHERE vault.pid = unit.pid)
            """, logger: logger)
        for try await pid in rows.decode(ByteBuffer.self) {
            guard let pseudonym = PostgresEventRow.pseudonym(pid), let batch = firstBatch[pseudonym], batch != Self.knownRow else {
                throw VeilError(.integrity, field: "vault", "the vault lookup returned a pseudonym the unit does not hold")
            }
            missing.append(pseudonym)
        }
        // In pseudonym order, as every writer does: two transactions creating the same rows take their
        // locks in the same order and cannot deadlock.
        missing.sort()
        guard !missing.isEmpty else { return created }
        var keys: [String: DataKeyRecord] = [:]
        for pseudonym in missing {
            let key = batches[firstBatch[pseudonym]!].dataKey
            keys[key.id] = key
        }
        for key in keys.values.sorted(by: { ExactText.order($0.id, $1.id) < 0 }) {
            try await connection.query(
                "INSERT INTO data_keys (id, sealed, created) VALUES (\(key.id), \(Data(key.sealed)), \(key.created)) ON CONFLICT (id) DO NOTHING",
                logger: logger
            ).drain()
        }
        let records = try missing.map { pseudonym in try CallerError.marking { try batches[firstBatch[pseudonym]!].escrow(pseudonym) } }
        for try await pid in try await connection.query(
            """
            INSERT INTO vault (pid, epoch, data_key_id, nonce, ciphertext)
            SELECT * FROM unnest(
                \(records.map { ByteBuffer(bytes: $0.pseudonym.bytes) })::bytea[], \(records.map { Int64($0.epoch) })::bigint[],
                \(records.map(\.dataKeyID))::text[], \(records.map { ByteBuffer(bytes: $0.nonce) })::bytea[],
                \(records.map { ByteBuffer(bytes: $0.ciphertext) })::bytea[])
            ON CONFLICT (pid) DO NOTHING RETURNING pid
            """, logger: logger
        ).decode(ByteBuffer.self) {
            if let pseudonym = PostgresEventRow.pseudonym(pid), let batch = firstBatch[pseudonym] { created[batch] += 1 }
        }
        return created
    }

    /// `storeIdentities`' mark for a pseudonym whose row the import's vault memory vouches for: no
    /// batch escrows it.
    private static let knownRow = -1
}
