import Foundation
import Logging
import PostgresNIO
import Synchronization
import VeilCore
import VeilStore

/// `EventStore` and `IdentityVault` on PostgreSQL (`PostgresSchema`).
///
/// Batches are written in units (`PostgresBatchWriter`): the unit's `event_id`s (the first of each)
/// are claimed in `event_ids` (a known id is a duplicate), then exactly the new events go to `events`
/// with COPY. Vault rows are created for the unit's pseudonyms that have none (one `= ANY` lookup,
/// then one `unnest` insert of what `escrow` returns), with ON CONFLICT DO NOTHING: another replica
/// may create the same row at the same moment, and both hold the same identity.
///
/// Concurrent batches are group-committed (`GroupCommitLanes`, up to `maxGroupEvents` events a group):
/// those that arrive while a group's transaction runs share the next one, and up to `writeLanes` groups
/// are written at once, each in a transaction on a connection of its own — while one group waits for
/// its COMMIT's WAL flush or for the head's lock, the next does its claims and COPY (with one group at
/// a time, one replica ingested 46k events/s over HTTP where three replicas together took 74k:
/// `docs/deploy.md`). Two groups of one replica meet in the database as two replicas' groups do
/// (below). In its transaction a group is one unit, its batches in arrival order (a repeated
/// `event_id` is a duplicate in the later batch, as with one transaction per batch; between groups
/// written at once, in whichever claimed it second), then the batches' `ingest.batch` records are sealed one after another
/// under the chain head's lock (`PostgresAuditChain`) and stored with one statement, and one COMMIT
/// makes them durable — each batch's result is returned only after it. The head's lock is held from
/// sealing to the end of the COMMIT, so audited commits (groups, reservations) take turns; with one
/// transaction per batch every batch waited for a WAL flush of its own there. If the transaction
/// fails, every batch of the group gets the error and none of them is stored. Rows that concurrent
/// writers may share (`event_ids`, `vault`) are inserted in key order within a batch, and the head is
/// locked after them; two groups of different replicas resending the same ids in different batch
/// orders can still wait for each other in a circle, which the server breaks by failing one of them
/// (its batches are refused as unavailable, nothing of them stored, and their senders resend).
final class PostgresEventStore: EventStore, IdentityVault {
    private let chain: PostgresAuditChain
    private let partitions: EventPartitions
    private let writer: PostgresBatchWriter
    private let batches: GroupCommitLanes<EventBatchWrite, BatchCommit>
    let scanner: PostgresSnapshotScan
    /// The pseudonyms known to have a vault row, which imports need not look up (`VaultMemory`).
    let vaultMemory = VaultMemory()

    /// A group of batches stops growing at this many events.
    static let maxGroupEvents = 50_000

    /// Groups of batches written at once by one store (one replica), each on its own connection.
    static let writeLanes = 2

    /// An import in batches commits on up to this many connections at once: one connection's backend
    /// spends about 8 µs of CPU per event (`docs/deploy.md`), so one connection cannot pass about
    /// 120,000 events/s; the pool has 20.
    var maxWriteConnections: Int { 4 }

    var eventsPerWriteUnit: Int { PostgresBatchWriter.unitEvents }

    init(chain: PostgresAuditChain) {
        let partitions = EventPartitions(database: chain.database)
        let writer = PostgresBatchWriter(logger: chain.database.logger)
        self.chain = chain
        self.partitions = partitions
        self.writer = writer
        scanner = PostgresSnapshotScan(database: chain.database)
        batches = GroupCommitLanes(
            lanes: PostgresEventStore.writeLanes, weight: { $0.events.count }, maxWeight: PostgresEventStore.maxGroupEvents
        ) { group in
            try await PostgresEventStore.write(group, chain: chain, writer: writer, partitions: partitions)
        }
    }

    private var database: VeilPostgresDatabase { chain.database }

    private var logger: Logger { database.logger }

    // MARK: Writes

    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        try await batches.submit(batch)
    }

    /// One group of batches in one transaction; see the type's contract.
    private static func write(
        _ group: [EventBatchWrite], chain: PostgresAuditChain, writer: PostgresBatchWriter, partitions: EventPartitions
    ) async throws -> [Result<BatchCommit, any Error>] {
        try await partitions.ensure(days: group.reduce(into: Set<Int64>()) { $0.formUnion(EventPartitions.days(of: $1.events)) })
        do {
            return try await chain.audited("store a batch of events") { connection in
                let results = try await writer.store(group, connection, copyClaim: true)
                let audited = zip(group, results).compactMap { batch, result in batch.audit.map { ($0, result) } }
                if !audited.isEmpty {
                    var head = try await chain.lockedHead(connection)
                    var records: [SealedAuditRecord] = []
                    for (audit, result) in audited {
                        let record = try chain.seal(audit(result), after: head)
                        head = record.head
                        records.append(record)
                    }
                    try await chain.store(records, on: connection)
                }
                return results.map { .success($0) }
            }
        } catch {
            partitions.forget()
            throw error
        }
    }

    /// One transaction for the whole import, the batches read as they arrive (the stream is an
    /// `AsyncSequence`) and written in units: the first batch at once, with those already waiting behind
    /// it (`EventBatchStream.nextIfWaiting`), so the import shows progress from its start; every later
    /// unit gathers `PostgresBatchWriter.unitEvents` events (or the rest of the import) — units of a
    /// few hand-off batches passed the 48 COPY claims of a transaction within 200,000 events and cost
    /// half as much backend CPU again. Then the import's record is sealed and the transaction commits.
    /// Other writers go on meanwhile; a batch resending an id the import holds waits for the import's end.
    ///
    /// A stream that does not show progress (one transaction of an import in batches, several open
    /// at once) gathers its first unit like the others, so a transaction of up to `unitEvents` events
    /// is one unit: it takes ids, data keys, vault rows and the head in that one order, and two such
    /// transactions never wait for each other in a circle (with two units each, a repeated `event_id`
    /// could make them: one holding a vault row of its first unit and claiming ids of its second).
    ///
    /// A unit looks up in `vault` only the pseudonyms that neither `vaultMemory` nor the transaction's
    /// earlier units know (`VaultTransaction`); before COMMIT the transaction checks that no erasure
    /// took a row it relied on, and once committed the memory learns what it established.
    func commitAll(
        _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
        audit: @escaping @Sendable (BatchCommit) -> AuditDraft
    ) async throws -> BatchCommit {
        let memory = vaultMemory
        do {
            let (total, learned) = try await chain.audited("import events") { connection in
                var vault: VaultTransaction? = try await VaultTransaction.begin(memory, connection, logger: logger)
                var total = BatchCommit()
                var units = 0
                var iterator = batches.makeAsyncIterator()
                while let batch = try await Self.producing({ try await iterator.next() }) {
                    var unit = [batch]
                    var events = batch.events.count
                    while events < PostgresBatchWriter.unitEvents {
                        let next: EventBatchWrite?
                        if units == 0 && batches.showsProgress {
                            next = batches.nextIfWaiting()
                        } else {
                            next = try await Self.producing({ try await iterator.next() })
                        }
                        guard let next else { break }
                        unit.append(next)
                        events += next.events.count
                    }
                    try await partitions.ensure(days: unit.reduce(into: Set<Int64>()) { $0.formUnion(EventPartitions.days(of: $1.events)) })
                    let copyClaim = units < PostgresBatchWriter.copyClaimsPerTransaction
                    for result in try await writer.store(unit, connection, copyClaim: copyClaim, vault: &vault) {
                        total += result
                        stored(result)
                    }
                    units += 1
                }
                let mark = try await vault?.confirm(connection, logger: logger)
                try await chain.append(audit(total), on: connection)
                return (total, mark.map { ($0, vault?.established ?? []) })
            }
            if let (mark, established) = learned { memory.learn(established, under: mark) }
            return total
        } catch {
            partitions.forget()
            throw error
        }
    }

    /// Awaits the producer's next batch, marking an error it finished with as the caller's own.
    private static func producing(_ next: () async throws -> EventBatchWrite?) async throws -> EventBatchWrite? {
        do { return try await next() } catch { throw CallerError(error: error) }
    }

    // MARK: Reads

    func eventCount() async throws -> Int {
        try await database.withConnection("count events") { connection in
            var count = 0
            for try await value in try await connection.query("SELECT count(*) FROM events", logger: logger).decode(Int.self) {
                count = value
            }
            return count
        }
    }

    func events(for pseudonym: Pseudonym) async throws -> [StoredEvent] {
        try await database.withConnection("read a pseudonym's events") { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: PostgresEventRow.selectList) FROM events WHERE pid = \(Data(pseudonym.bytes)) ORDER BY ts_ms, seq",
                logger: logger)
            var events: [StoredEvent] = []
            for try await row in rows { events.append(try PostgresEventRow.decode(row).event) }
            return events
        }
    }

    /// Keyset pagination on (pid, ts_ms, seq): each chunk is one query that resumes after the last row
    /// of the previous one, so memory holds one chunk whatever the table's size.
    func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk {
        try await database.withConnection("read events") { connection in
            let rows: PostgresRowSequence
            if let cursor {
                rows = try await connection.query(
                    """
                    SELECT \(unescaped: PostgresEventRow.selectList) FROM events
                    WHERE (pid, ts_ms, seq) > (\(Data(cursor.pseudonym.bytes)), \(cursor.timestampMillis), \(cursor.sequence))
                    ORDER BY pid, ts_ms, seq LIMIT \(limit)
                    """, logger: logger)
            } else {
                rows = try await connection.query(
                    "SELECT \(unescaped: PostgresEventRow.selectList) FROM events ORDER BY pid, ts_ms, seq LIMIT \(limit)", logger: logger)
            }
            var events: [StoredEvent] = []
            events.reserveCapacity(limit)
            var lastSeq: Int64 = 0
            for try await row in rows {
                let (event, seq) = try PostgresEventRow.decode(row)
                events.append(event)
                lastSeq = seq
            }
            guard events.count == limit, let last = events.last else { return EventChunk(events: events, next: nil) }
            let next = EventCursor(
                pseudonym: last.pseudonym, timestampMillis: last.timestampMillis, sequence: lastSeq, scanSize: cursor?.scanSize ?? 0)
            return EventChunk(events: events, next: next)
        }
    }

    func erase(_ pseudonym: Pseudonym, audit: @escaping @Sendable (ErasureCounts) -> AuditDraft) async throws -> ErasureCounts {
        let pid = Data(pseudonym.bytes)
        return try await chain.audited("erase a pseudonym") { connection in
            try await VaultMemory.erasing(connection, logger: logger)  // before any vault row goes
            try await connection.query(
                "DELETE FROM event_ids WHERE event_id IN (SELECT event_id FROM events WHERE pid = \(pid))", logger: logger
            ).drain()
            var events = 0
            for try await count in try await connection.query(
                "WITH gone AS (DELETE FROM events WHERE pid = \(pid) RETURNING 1) SELECT count(*) FROM gone", logger: logger
            ).decode(Int.self) { events = count }
            var identities = 0
            for try await _ in try await connection.query("DELETE FROM vault WHERE pid = \(pid) RETURNING 1", logger: logger) {
                identities += 1
            }
            let counts = ErasureCounts(events: events, identities: identities)
            try await chain.append(audit(counts), on: connection)
            return counts
        }
    }

    /// On several connections under one exported snapshot (`PostgresSnapshotScan`).
    func scan(_ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        try await scanner.run(filter, chunkSize: chunkSize, body)
    }

    /// The grouped count in SQL: one `GROUP BY pid, <key>` statement (`EventGrouping.sql`, one snapshot)
    /// over the partitions of the time range, so the server aggregates (a hash aggregate, on parallel
    /// workers when it chooses) and sends one row per (pseudonym, group) instead of every event.
    func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws {
        let lower = request.filter.time?.lowerBound ?? Int64.min
        let upper = request.filter.time?.upperBound ?? Int64.max
        guard lower < upper else { return }
        let types = request.filter.types.map { $0.map(\.rawValue).sorted() }
        let categories = request.sortedCategories
        let grouping = request.grouping
        let chunkSize = 65_536
        try await database.withConnection("count events by group") { connection in
            let rows = try await connection.query(
                """
                SELECT pid, \(unescaped: grouping.sql) AS key, count(*) FROM events
                WHERE ts_ms >= \(lower) AND ts_ms < \(upper) AND (\(types == nil) OR type = ANY(\(types ?? [])))
                AND (\(categories == nil) OR category = ANY(\(categories ?? []))) AND \(unescaped: grouping.sql) IS NOT NULL
                GROUP BY 1, 2
                """, logger: logger)
            var chunk: [PseudonymGroupCount] = []
            chunk.reserveCapacity(chunkSize)
            for try await row in rows {
                var cells = PostgresCellReader(row)
                do {
                    let pseudonym = try cells.pseudonym()
                    let key: EventGroupKey?
                    if grouping.hasTextKeys { key = try cells.text().map(EventGroupKey.text) } else { key = try cells.integer().map(EventGroupKey.number) }
                    guard let pseudonym, let key, let count = try cells.integer() else { throw PostgresCellReader.Malformed() }
                    chunk.append(PseudonymGroupCount(pseudonym: pseudonym, key: key, count: count))
                } catch is PostgresCellReader.Malformed {
                    throw VeilError(.integrity, field: "events", "a grouped count row is malformed")
                }
                if chunk.count == chunkSize {
                    try CallerError.marking { try body(chunk) }
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            if !chunk.isEmpty { try CallerError.marking { try body(chunk) } }
        }
    }

    /// PostgreSQL has nothing to settle: a commit that returned is in the WAL, and the server's
    /// checkpoints are its own business.
    func settle() async throws -> Double { 0 }

    /// The newest day partition that holds an event, then the latest time in it: one day's rows read.
    func latestEventMillis() async throws -> Int64? {
        let days = try await partitions.existingDays().sorted(by: >)
        return try await database.withConnection("read the latest event time") { connection in
            for day in days {
                let rows = try await connection.query(
                    "SELECT max(ts_ms) FROM \(unescaped: EventPartitions.tableName(day: day))", logger: logger)
                var latest: Int64?
                for try await value in rows.decode(Int64?.self) { latest = value }
                if let latest { return latest }
            }
            return nil
        }
    }

    func containsEvents(in range: Range<Int64>) async throws -> Bool {
        try await database.withConnection("look for events in a time range") { connection in
            var found = false
            for try await value in try await connection.query(
                "SELECT EXISTS (SELECT 1 FROM events WHERE ts_ms >= \(range.lowerBound) AND ts_ms < \(range.upperBound))", logger: logger
            ).decode(Bool.self) { found = value }
            return found
        }
    }

    /// Three grouped reads and the database's size in one REPEATABLE READ, READ ONLY transaction (one
    /// snapshot). `floor(ts_ms / 86400000)` is the partition's day, so each day's group reads one partition.
    func statistics() async throws -> StoredEventStatistics {
        try await database.withTransaction("read event statistics") { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger).drain()
            let day = "floor(ts_ms::numeric / 86400000)::bigint"
            var typeRows: [(day: Int64, type: String, tally: EventTally)] = []
            for try await (day, type, events, pseudonyms) in try await connection.query(
                "SELECT \(unescaped: day), type, count(*), count(DISTINCT pid) FROM events GROUP BY 1, 2", logger: logger
            ).decode((Int64, String, Int, Int).self) {
                typeRows.append((day, type, EventTally(events: events, pseudonyms: pseudonyms)))
            }
            var dayRows: [(day: Int64, tally: EventTally)] = []
            for try await (day, events, pseudonyms) in try await connection.query(
                "SELECT \(unescaped: day), count(*), count(DISTINCT pid) FROM events GROUP BY 1", logger: logger
            ).decode((Int64, Int, Int).self) {
                dayRows.append((day, EventTally(events: events, pseudonyms: pseudonyms)))
            }
            var total = EventTally(events: 0, pseudonyms: 0)
            var earliest: Int64?
            var latest: Int64?
            var bytes: Int64 = 0
            for try await (events, pseudonyms, first, last, size) in try await connection.query(
                "SELECT count(*), count(DISTINCT pid), min(ts_ms), max(ts_ms), pg_database_size(current_database()) FROM events",
                logger: logger
            ).decode((Int, Int, Int64?, Int64?, Int64).self) {
                total = EventTally(events: events, pseudonyms: pseudonyms)
                earliest = first
                latest = last
                bytes = size
            }
            return try StoredEventStatistics.assemble(
                typeRows: typeRows, dayRows: dayRows, total: total, earliestMillis: earliest, latestMillis: latest, storageBytes: bytes)
        }
    }

    // MARK: IdentityVault

    func identity(for pseudonym: Pseudonym) async throws -> VaultRecord? {
        try await database.withConnection("read the vault") { connection in
            let rows = try await connection.query(
                "SELECT epoch, data_key_id, nonce, ciphertext FROM vault WHERE pid = \(Data(pseudonym.bytes))", logger: logger)
            for try await (epoch, keyID, nonce, ciphertext) in rows.decode((Int64, String, Data, Data).self) {
                guard let epoch = UInt32(exactly: epoch) else {
                    throw VeilError(.integrity, field: "vault", "a stored vault row is malformed")
                }
                return VaultRecord(
                    pseudonym: pseudonym, epoch: epoch, dataKeyID: keyID, nonce: [UInt8](nonce), ciphertext: [UInt8](ciphertext))
            }
            return nil
        }
    }

    func dataKey(id: String) async throws -> DataKeyRecord? {
        try await database.withConnection("read a data key") { connection in
            let rows = try await connection.query("SELECT sealed, created FROM data_keys WHERE id = \(id)", logger: logger)
            for try await (sealed, created) in rows.decode((Data, Date).self) {
                return DataKeyRecord(id: id, sealed: [UInt8](sealed), created: created)
            }
            return nil
        }
    }

    func identityCount() async throws -> Int {
        try await database.withConnection("count vault rows") { connection in
            var count = 0
            for try await value in try await connection.query("SELECT count(*) FROM vault", logger: logger).decode(Int.self) {
                count = value
            }
            return count
        }
    }
}

/// The day partitions of `events` (`events_d<day>`, `day` = floor(ts_ms / 86,400,000)): created before
/// a batch that needs them, in a short transaction of their own under an advisory lock, and
/// remembered by this process. A partition is made as a table of its own and then attached:
/// `CREATE TABLE … PARTITION OF events` takes an ACCESS EXCLUSIVE lock on `events`, which waits for
/// every open transaction that reads or writes events (an import, a training scan, this process's own
/// import transaction: a deadlock the server cannot see) and blocks all of them meanwhile; `ATTACH
/// PARTITION` takes SHARE UPDATE EXCLUSIVE, which reads and writes do not conflict with. Retention is
/// detaching and dropping a day's table (and deleting its `event_ids`).
final class EventPartitions: Sendable {
    static let dayMillis: Int64 = 86_400_000
    /// The advisory lock key that serialises partition creation ("veil-par").
    static let lockKey: Int64 = 0x7665_696C_2D70_6172

    private let database: VeilPostgresDatabase
    private let known = Mutex<Set<Int64>>([])

    init(database: VeilPostgresDatabase) { self.database = database }

    static func day(_ millis: Int64) -> Int64 {
        millis >= 0 ? millis / dayMillis : -((-millis + dayMillis - 1) / dayMillis)
    }

    static func days(of events: [StoredEvent]) -> Set<Int64> {
        Set(events.map { day($0.timestampMillis) })
    }

    static func tableName(day: Int64) -> String {
        day >= 0 ? "events_d\(day)" : "events_dm\(-day)"
    }

    /// Creates the partitions of `days` that this process has not seen yet.
    func ensure(days: Set<Int64>) async throws {
        let missing = known.withLock { days.subtracting($0) }
        guard !missing.isEmpty else { return }
        let logger = database.logger
        try await database.withTransaction("create a day partition") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger).drain()
            for day in missing.sorted() {
                let table = Self.tableName(day: day)
                var attached = false
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS \(unescaped: table) (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)", logger: logger
                ).drain()
                for try await value in try await connection.query(
                    "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = \(table)::regclass)", logger: logger
                ).decode(Bool.self) { attached = value }
                guard !attached else { continue }
                let start = day * Self.dayMillis
                try await connection.query(
                    """
                    ALTER TABLE events ATTACH PARTITION \(unescaped: table)
                    FOR VALUES FROM (\(unescaped: String(start))) TO (\(unescaped: String(start + Self.dayMillis)))
                    """, logger: logger
                ).drain()
            }
        }
        known.withLock { $0.formUnion(missing) }
    }

    /// After a failed write: a partition may have been dropped meanwhile; ask the server next time.
    func forget() {
        known.withLock { $0.removeAll() }
    }

    /// The days that have a partition, from the catalog.
    func existingDays() async throws -> [Int64] {
        let logger = database.logger
        return try await database.withConnection("list the day partitions") { connection in
            let rows = try await connection.query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
                logger: logger)
            var days: [Int64] = []
            for try await name in rows.decode(String.self) {
                if let day = Self.day(ofTable: name) { days.append(day) }
            }
            return days
        }
    }

    /// The day of partition `table` (`tableName(day:)` read back), nil for another name.
    static func day(ofTable table: String) -> Int64? {
        if table.hasPrefix("events_dm"), let day = Int64(table.dropFirst(9)) { return -day }
        if table.hasPrefix("events_d"), let day = Int64(table.dropFirst(8)) { return day }
        return nil
    }
}
