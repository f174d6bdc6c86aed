import Foundation
import GRDB
import GRDBSQLite
import VeilCore
import VeilStore

/// The SQLite backend of `EventStore` and `IdentityVault`, over the data directory's `VeilDatabase`.
///
/// Concurrent batches share write transactions (`GroupCommitter`; WAL, `synchronous = FULL`): `commit`
/// returns after the transaction holding the batch is on disk. `EventWriter` does the writing.
/// Reads by pseudonym seek `events_day_pid` once per stored day (`EventSchema`).
final class SQLiteEventStore: EventStore, IdentityVault {
    let database: VeilDatabase
    private let chain: SQLiteAuditChain
    private let writer = EventWriter()
    private let groupCommit: GroupCommitQueue<EventBatchWrite, BatchCommit>

    init(database: VeilDatabase, chain: SQLiteAuditChain) {
        self.database = database
        self.chain = chain
        groupCommit = GroupCommitter.make(database: database, writer: writer, chain: chain)
    }

    // MARK: EventStore

    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        try await groupCommit.submit(batch)
    }

    func commitAll(
        _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
        audit: @escaping @Sendable (BatchCommit) -> AuditDraft
    ) async throws -> BatchCommit {
        let writer = writer
        let chain = chain
        do {
            // The transaction stays open while the writer waits (on its own queue) for the producer's
            // next batch. Its commit writes the whole import to the WAL; the copy into the database
            // file is left to the background (`WALCheckpointer`).
            return try await database.write("events.import", import: true) { db in
                let total = try writer.writing(in: db) { store in
                    var total = BatchCommit()
                    while let batch = try CallerError.marking({ try batches.nextWaiting() }) {
                        let result = try store(batch)
                        total += result
                        stored(result)
                    }
                    return total
                }
                try chain.append(audit(total), in: db)
                return total
            }
        } catch {
            writer.transactionFailed()
            throw error
        }
    }

    func eventCount() async throws -> Int {
        try await database.read("events.count") { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }

    func events(for pseudonym: Pseudonym) async throws -> [StoredEvent] {
        try await database.read("events.for_pseudonym") { db in
            try EventRowReader.fetch(
                """
                \(EventSchema.daysCTE)
                SELECT \(EventColumn.selectList) FROM days CROSS JOIN events
                WHERE \(EventSchema.eventOnDay) AND events.pid = ?
                ORDER BY events.ts_ms, events.rowid
                """,
                arguments: [.pseudonym(pseudonym)], in: db
            ).events
        }
    }

    func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk {
        precondition(limit > 0, "a chunk holds at least one event")
        return try await database.read("events.scan_ordered") { db in
            guard var scan = try cursor.map(PseudonymRangeScan.init(resuming:)) ?? PseudonymRangeScan(in: db) else {
                return EventChunk(events: [], next: nil)
            }
            return try scan.next(limit: limit, in: db)
        }
    }

    /// Reads in storage order: the whole table on two readers at once (`TwoReaderScan`), else — a time
    /// range, another such scan running — in one read transaction (`scanStatement`).
    func scan(
        _ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void
    ) async throws {
        precondition(chunkSize > 0, "a chunk holds at least one event")
        guard let scan = Self.scanConditions(filter) else { return }
        if filter.time == nil {
            let rowids = "rowid >= ?\(scan.arguments.count + 1) AND rowid < ?\(scan.arguments.count + 2)"
            let sql = "SELECT \(scan.selection.sql) FROM events WHERE " + (scan.conditions + [rowids]).joined(separator: " AND ")
            if try await TwoReaderScan.run(
                database: database, sql: sql, selection: scan.selection, arguments: scan.arguments, chunkSize: chunkSize, body)
            {
                return
            }
        }
        guard let (sql, selection, arguments) = Self.scanStatement(filter) else { return }
        try await database.read("events.scan") { db in
            // The next chunk is read while `body` consumes the last one (`ChunkHandOff`).
            let handOff = ChunkHandOff(body)
            var chunk: [StoredEvent] = []
            chunk.reserveCapacity(chunkSize)
            do {
                try EventRowReader.forEach(sql, selection: selection, arguments: arguments, in: db) { event, _ in
                    chunk.append(event)
                    if chunk.count == chunkSize {
                        try handOff.send(chunk)
                        chunk = []
                        chunk.reserveCapacity(chunkSize)
                    }
                }
                if !chunk.isEmpty { try handOff.send(chunk) }
            } catch {
                try? handOff.finish()  // `body` runs no more once this read is over
                throw error
            }
            try handOff.finish()
        }
    }

    /// The statement that reads what `filter` admits in one pass; nil when it admits nothing.
    static func scanStatement(_ filter: EventFilter) -> (sql: String, selection: EventSelection, arguments: [EventRowReader.Argument])? {
        guard let scan = scanConditions(filter) else { return nil }
        let sql = "SELECT \(scan.selection.sql) FROM events" + (scan.conditions.isEmpty ? "" : " WHERE " + scan.conditions.joined(separator: " AND "))
        return (sql, scan.selection, scan.arguments)
    }

    /// What a read of `filter` selects and where, with its arguments; nil when it admits nothing. A
    /// time range seeks only its days' stretch of `events_day_pid`; types are tested by SQLite before a
    /// row is decoded; only the columns of `filter.fields` are selected (`EventSelection`).
    static func scanConditions(
        _ filter: EventFilter
    ) -> (selection: EventSelection, conditions: [String], arguments: [EventRowReader.Argument])? {
        var conditions: [String] = []
        var arguments: [EventRowReader.Argument] = []
        if let time = filter.time {
            guard !time.isEmpty else { return nil }
            conditions.append("\(EventSchema.dayExpression) BETWEEN ?1 AND ?2 AND ts_ms >= ?3 AND ts_ms < ?4")
            arguments = [
                .int(EventSchema.day(time.lowerBound)), .int(EventSchema.day(time.upperBound - 1)), .int(time.lowerBound),
                .int(time.upperBound),
            ]
        }
        if let types = filter.types {
            guard !types.isEmpty else { return nil }
            // Type names are Veil's own constants, never input.
            conditions.append("type IN (\(types.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ")))")
        }
        return (EventSelection(reading: filter.fields), conditions, arguments)
    }

    func erase(_ pseudonym: Pseudonym, audit: @escaping @Sendable (ErasureCounts) -> AuditDraft) async throws -> ErasureCounts {
        let pid = Data(pseudonym.bytes)
        let writer = writer
        let chain = chain
        return try await database.write("events.erase") { db in
            try db.execute(
                sql: """
                    \(EventSchema.daysCTE)
                    DELETE FROM events WHERE rowid IN (
                        SELECT events.rowid FROM days CROSS JOIN events WHERE \(EventSchema.eventOnDay) AND events.pid = ?)
                    """,
                arguments: [pid])
            let events = db.changesCount
            writer.forget(pseudonym)
            try db.execute(sql: "DELETE FROM vault WHERE pid = ?", arguments: [pid])
            let counts = ErasureCounts(events: events, identities: db.changesCount)
            try chain.append(audit(counts), in: db)
            return counts
        }
    }

    func latestEventMillis() async throws -> Int64? {
        let day = EventSchema.dayExpression
        return try await database.read("events.latest") { db in
            guard let latestDay = try Int64.fetchOne(db, sql: "SELECT MAX(\(day)) FROM events") else { return nil }
            return try Int64.fetchOne(db, sql: "SELECT MAX(ts_ms) FROM events WHERE \(day) = ?", arguments: [latestDay])
        }
    }

    func containsEvents(in range: Range<Int64>) async throws -> Bool {
        guard !range.isEmpty else { return false }
        let day = EventSchema.dayExpression
        return try await database.read("events.contains") { db in
            try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM events WHERE \(day) BETWEEN ? AND ? AND ts_ms >= ? AND ts_ms < ?)",
                arguments: [
                    EventSchema.day(range.lowerBound), EventSchema.day(range.upperBound - 1), range.lowerBound, range.upperBound,
                ]) ?? false
        }
    }

    /// Three grouped reads and the page count in one read transaction. Days are counted with
    /// `EventSchema.floorDayExpression` (not the index's truncating `dayExpression`): the same days as
    /// every backend, also before 1970.
    func statistics() async throws -> StoredEventStatistics {
        let day = EventSchema.floorDayExpression
        return try await database.read("events.statistics") { db in
            let typeRows = try Row.fetchAll(
                db, sql: "SELECT \(day), type, COUNT(*), COUNT(DISTINCT pid) FROM events GROUP BY 1, 2"
            ).map { row in (day: row[0] as Int64, type: row[1] as String, tally: EventTally(events: row[2], pseudonyms: row[3])) }
            let dayRows = try Row.fetchAll(db, sql: "SELECT \(day), COUNT(*), COUNT(DISTINCT pid) FROM events GROUP BY 1")
                .map { row in (day: row[0] as Int64, tally: EventTally(events: row[1], pseudonyms: row[2])) }
            let totals = try Row.fetchOne(db, sql: "SELECT COUNT(*), COUNT(DISTINCT pid), MIN(ts_ms), MAX(ts_ms) FROM events")
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return try StoredEventStatistics.assemble(
                typeRows: typeRows, dayRows: dayRows,
                total: EventTally(events: totals?[0] ?? 0, pseudonyms: totals?[1] ?? 0),
                earliestMillis: totals?[2], latestMillis: totals?[3], storageBytes: pages * pageSize)
        }
    }

    /// Also gives back the writer's larger page cache of an import (`VeilDatabase.importCacheKiB`).
    func settle() async throws -> Double {
        let checkpointer = database.checkpointer
        let directory = database.directory
        try await database.releaseImportCache()
        do {
            return try await BlockingIO.run { try checkpointer.checkpointNow() }
        } catch {
            throw SQLiteErrors.map(error, operation: "events.settle", directory: directory)
        }
    }

    // MARK: IdentityVault

    func identity(for pseudonym: Pseudonym) async throws -> VaultRecord? {
        let pid = Data(pseudonym.bytes)
        let row = try await database.read("vault.identity") { db in try VaultRow.fetchOne(db, key: pid) }
        guard let row else { return nil }
        guard let record = row.record else {
            throw VeilError(.integrity, field: "vault", "the vault row of \(pseudonym.hex) is malformed")
        }
        return record
    }

    func dataKey(id: String) async throws -> DataKeyRecord? {
        try await database.read("vault.data_key") { db in try DataKeyRow.fetchOne(db, key: id) }?.record
    }

    func identityCount() async throws -> Int {
        try await database.read("vault.count") { db in try VaultRow.fetchCount(db) }
    }
}

/// Binds values to a statement's parameters with the SQLite C API. A `StoredEvent` goes to the
/// parameters of `EventColumn.insertSQL`, each at its column's position, from a `RowParameters`
/// buffer (`SQLITE_STATIC`); other values are copied by SQLite before the call returns
/// (`SQLITE_TRANSIENT`).
enum Binder {
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds `event`, its text and blob values from `row`, which must outlive the statement's next
    /// step (and stay until the next `bind` or `sqlite3_clear_bindings`).
    static func bind(_ event: StoredEvent, to statement: OpaquePointer, from row: RowParameters) {
        let properties = EventProperties.text(event.properties)
        row.start(
            reserving: event.eventID.utf8.count + event.type.rawValue.utf8.count + 2 * RowParameters.pseudonymBytes
                + (event.itemID?.utf8.count ?? 0) + (event.category?.utf8.count ?? 0) + (event.query?.utf8.count ?? 0)
                + (properties?.utf8.count ?? 0))
        row.text(event.eventID, EventColumn.eventID.position, statement)
        row.pseudonym(event.pseudonym, EventColumn.pid.position, statement)
        int(Int64(event.epoch), .epoch, statement)
        row.text(event.type.rawValue, EventColumn.type.position, statement)
        int(event.timestampMillis, .timestamp, statement)
        if let session = event.session {
            row.pseudonym(session, EventColumn.sessionPID.position, statement)
        } else {
            sqlite3_bind_null(statement, EventColumn.sessionPID.position)
        }
        row.optionalText(event.itemID, EventColumn.itemID.position, statement)
        row.optionalText(event.category, EventColumn.category.position, statement)
        if let price = event.price {
            sqlite3_bind_double(statement, EventColumn.price.position, price)
        } else {
            sqlite3_bind_null(statement, EventColumn.price.position)
        }
        optionalInt(event.quantity.map(Int64.init), .quantity, statement)
        optionalInt(event.rating.map(Int64.init), .rating, statement)
        row.optionalText(event.query, EventColumn.query.position, statement)
        row.optionalText(properties, EventColumn.properties.position, statement)
    }

    private static func int(_ value: Int64, _ column: EventColumn, _ statement: OpaquePointer) {
        sqlite3_bind_int64(statement, column.position, value)
    }

    private static func optionalInt(_ value: Int64?, _ column: EventColumn, _ statement: OpaquePointer) {
        if let value { int(value, column, statement) } else { sqlite3_bind_null(statement, column.position) }
    }

    /// Binds a vault row to `(pid, epoch, data_key_id, nonce, ciphertext)`.
    static func bind(_ record: VaultRecord, to statement: OpaquePointer) {
        pseudonym(record.pseudonym, 1, statement)
        sqlite3_bind_int64(statement, 2, Int64(record.epoch))
        text(record.dataKeyID, 3, statement)
        blob(record.nonce, 4, statement)
        blob(record.ciphertext, 5, statement)
    }

    static func blob(_ value: [UInt8], _ index: Int32, _ statement: OpaquePointer) {
        value.withUnsafeBytes { bytes in
            // A non-null pointer even when empty: a zero-length blob, not NULL.
            _ = sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), transient)
        }
    }

    static func text(_ value: String, _ index: Int32, _ statement: OpaquePointer) {
        var value = value
        value.withUTF8 { utf8 in
            guard let base = utf8.baseAddress, !utf8.isEmpty else {
                _ = sqlite3_bind_text(statement, index, "", 0, transient)
                return
            }
            _ = sqlite3_bind_text(
                statement, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count),
                transient)
        }
    }

    static func bind(_ value: Pseudonym, _ index: Int32, _ statement: OpaquePointer) {
        pseudonym(value, index, statement)
    }

    private static func pseudonym(_ value: Pseudonym, _ index: Int32, _ statement: OpaquePointer) {
        withUnsafeBytes(of: (value.high.bigEndian, value.low.bigEndian)) { bytes in
            _ = sqlite3_bind_blob(statement, index, bytes.baseAddress, 16, transient)
        }
    }
}

/// The bytes of one row's text and blob parameters, bound with `SQLITE_STATIC`: SQLite reads them
/// where they are instead of copying each value into memory of its own (`SQLITE_TRANSIENT`: a malloc
/// and a free per value, six per event of an import). Refilled for each row (`start`); it grows only
/// there, so no value bound for the current row moves. Use on one thread; clear the statement's
/// bindings before it goes.
final class RowParameters {
    /// A pseudonym's bytes: two big-endian 64-bit halves.
    static let pseudonymBytes = 16

    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0

    init(capacity: Int = 1_024) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    /// Starts a row whose values take at most `bytes`; the previous row's values are overwritten.
    func start(reserving bytes: Int) {
        used = 0
        guard bytes > capacity else { return }
        base.deallocate()
        capacity = max(bytes, 2 * capacity)
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    /// Copies `value` (UTF-8) into the row and binds it at `index`; an empty string is an empty text,
    /// not NULL.
    func text(_ value: String, _ index: Int32, _ statement: OpaquePointer) {
        var value = value
        let start = take(value.utf8.count)
        value.withUTF8 { utf8 in
            if let source = utf8.baseAddress { start.copyMemory(from: source, byteCount: utf8.count) }
        }
        _ = sqlite3_bind_text(statement, index, start.assumingMemoryBound(to: CChar.self), Int32(value.utf8.count), nil)
    }

    func optionalText(_ value: String?, _ index: Int32, _ statement: OpaquePointer) {
        if let value { text(value, index, statement) } else { sqlite3_bind_null(statement, index) }
    }

    /// Copies `value` into the row as the 16-byte blob every pseudonym column holds, and binds it.
    func pseudonym(_ value: Pseudonym, _ index: Int32, _ statement: OpaquePointer) {
        let start = take(Self.pseudonymBytes)
        start.storeBytes(of: value.high.bigEndian, as: UInt64.self)
        start.storeBytes(of: value.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        _ = sqlite3_bind_blob(statement, index, start, Int32(Self.pseudonymBytes), nil)
    }

    /// The next `count` bytes of the row.
    private func take(_ count: Int) -> UnsafeMutableRawPointer {
        precondition(used + count <= capacity, "a row's values outgrew what `start` reserved")
        defer { used += count }
        return base + used
    }
}
