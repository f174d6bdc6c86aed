import Foundation
import GRDB
import GRDBSQLite
import VeilCore

/// The SQLite backend of `EventStore` and `IdentityVault`, over the data directory's `VeilDatabase`.
///
/// Concurrent batches share write transactions (`GroupCommitter`; WAL, `synchronous = FULL`): `commit`
/// returns after the transaction holding the batch is on disk. Events go in through one cached
/// prepared statement, `INSERT … ON CONFLICT(event_id) DO NOTHING`, whose change count tells a new
/// event from a duplicate.
public final class SQLiteEventStore: EventStore, IdentityVault {
    public let database: VeilDatabase
    private let groupCommit: GroupCommitter

    public init(database: VeilDatabase) {
        self.database = database
        groupCommit = GroupCommitter(pool: database.pool)
    }

    /// Opens (creating if needed) the database in `directory`.
    public convenience init(directory: String) throws {
        self.init(database: try VeilDatabase(directory: directory))
    }

    // MARK: EventStore

    public func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        try await groupCommit.commit(batch)
    }

    /// One batch's writes, inside the caller's write transaction (which may hold other batches).
    static func commit(_ batch: EventBatchWrite, in db: Database) throws -> BatchCommit {
        var result = BatchCommit()
        // Vault rows first: one lookup per distinct pseudonym of the batch.
        var seen = Set<Pseudonym>(minimumCapacity: min(batch.events.count, 4096))
        let exists = try db.cachedStatement(sql: "SELECT 1 FROM vault WHERE pid = ?").sqliteStatement
        var dataKeyStored = false
        for event in batch.events where seen.insert(event.pseudonym).inserted {
            sqlite3_reset(exists)
            Binder.bind(event.pseudonym, 1, exists)
            switch sqlite3_step(exists) {
            case SQLITE_ROW: continue
            case SQLITE_DONE: break
            case let code:
                let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
                sqlite3_reset(exists)
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
            }
            if !dataKeyStored {
                try db.execute(
                    sql: "INSERT INTO data_keys (id, sealed, created) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING",
                    arguments: [batch.dataKey.id, Data(batch.dataKey.sealed), batch.dataKey.created])
                dataKeyStored = true
            }
            let record = try batch.escrow(event.pseudonym)
            try insertVault(record, in: db)
            result.newIdentities += 1
        }

        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO events (event_id, pid, epoch, type, ts_ms, session_pid, item_id, category, price, quantity, rating, query)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING
                """)
        let statement = insert.sqliteStatement
        let connection = db.sqliteConnection
        for event in batch.events {
            sqlite3_reset(statement)
            Binder.bind(event, to: statement)
            let code = sqlite3_step(statement)
            guard code == SQLITE_DONE else {
                let message = String(cString: sqlite3_errmsg(connection))
                sqlite3_reset(statement)
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
            }
            if sqlite3_changes(connection) > 0 { result.inserted += 1 } else { result.duplicates += 1 }
        }
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        sqlite3_reset(exists)
        return result
    }

    /// Inserts one vault row through a cached statement, binding the values directly.
    private static func insertVault(_ record: VaultRecord, in db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO vault (pid, epoch, data_key_id, nonce, ciphertext) VALUES (?, ?, ?, ?, ?)"
        ).sqliteStatement
        sqlite3_reset(statement)
        Binder.bind(record, to: statement)
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    public func eventCount() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0 }
    }

    public func events(for pseudonym: Pseudonym) async throws -> [StoredEvent] {
        try await database.read { db in
            try EventRowReader.fetch(
                "SELECT \(EventRow.columns) FROM events WHERE pid = ? ORDER BY ts_ms, rowid", arguments: [.pseudonym(pseudonym)],
                in: db
            ).events
        }
    }

    public func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk {
        precondition(limit > 0, "a chunk holds at least one event")
        return try await database.read { db in
            let (events, lastRowid): ([StoredEvent], Int64?)
            if let cursor {
                (events, lastRowid) = try EventRowReader.fetch(
                    """
                    SELECT \(EventRow.columns) FROM events
                    WHERE (pid, ts_ms, rowid) > (?, ?, ?)
                    ORDER BY pid, ts_ms, rowid LIMIT ?
                    """,
                    arguments: [.pseudonym(cursor.pseudonym), .int(cursor.timestampMillis), .int(cursor.sequence), .int(Int64(limit))],
                    in: db, capacity: limit)
            } else {
                (events, lastRowid) = try EventRowReader.fetch(
                    "SELECT \(EventRow.columns) FROM events ORDER BY pid, ts_ms, rowid LIMIT ?", arguments: [.int(Int64(limit))],
                    in: db, capacity: limit)
            }
            var next: EventCursor? = nil
            if events.count == limit, let last = events.last, let lastRowid {
                next = EventCursor(pseudonym: last.pseudonym, timestampMillis: last.timestampMillis, sequence: lastRowid)
            }
            return EventChunk(events: events, next: next)
        }
    }

    public func latestEventMillis() async throws -> Int64? {
        let day = EventSchema.dayExpression
        return try await database.read { db in
            guard let latestDay = try Int64.fetchOne(db, sql: "SELECT MAX(\(day)) FROM events") else { return nil }
            return try Int64.fetchOne(db, sql: "SELECT MAX(ts_ms) FROM events WHERE \(day) = ?", arguments: [latestDay])
        }
    }

    public func containsEvents(in range: Range<Int64>) async throws -> Bool {
        guard !range.isEmpty else { return false }
        let day = EventSchema.dayExpression
        let millisPerDay: Int64 = 86_400_000
        return try await database.read { db in
            try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM events WHERE \(day) BETWEEN ? AND ? AND ts_ms >= ? AND ts_ms < ?)",
                arguments: [
                    range.lowerBound / millisPerDay, (range.upperBound - 1) / millisPerDay, range.lowerBound, range.upperBound,
                ]) ?? false
        }
    }

    /// Reads every stored event once, in storage order, `chunkSize` at a time, in one read
    /// transaction (a consistent snapshot). An error thrown by `body` stops the scan and is rethrown.
    public func scanAllEvents(chunkSize: Int = 65_536, _ body: ([StoredEvent]) throws -> Void) throws {
        precondition(chunkSize > 0, "a chunk holds at least one event")
        try database.pool.read { db in
            var chunk: [StoredEvent] = []
            chunk.reserveCapacity(chunkSize)
            try EventRowReader.forEach("SELECT \(EventRow.columns) FROM events", arguments: [], in: db) { event, _ in
                chunk.append(event)
                if chunk.count == chunkSize {
                    try body(chunk)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
            if !chunk.isEmpty { try body(chunk) }
        }
    }

    public func erase(_ pseudonym: Pseudonym) async throws -> ErasureCounts {
        let pid = Data(pseudonym.bytes)
        return try await database.pool.write { db in
            try db.execute(sql: "DELETE FROM events WHERE pid = ?", arguments: [pid])
            let events = db.changesCount
            try db.execute(sql: "DELETE FROM vault WHERE pid = ?", arguments: [pid])
            return ErasureCounts(events: events, identities: db.changesCount)
        }
    }

    // MARK: IdentityVault

    public func identity(for pseudonym: Pseudonym) async throws -> VaultRecord? {
        let pid = Data(pseudonym.bytes)
        let row = try await database.read { db in try VaultRow.fetchOne(db, key: pid) }
        guard let row else { return nil }
        guard let record = row.record else {
            throw VeilError(.integrity, field: "vault", "the vault row of \(pseudonym.hex) is malformed")
        }
        return record
    }

    public func dataKey(id: String) async throws -> DataKeyRecord? {
        try await database.read { db in try DataKeyRow.fetchOne(db, key: id) }?.record
    }

    public func identityCount() async throws -> Int {
        try await database.read { db in try VaultRow.fetchCount(db) }
    }
}

/// Binds a `StoredEvent` to the 12 parameters of the insert statement with the SQLite C API
/// (`SQLITE_TRANSIENT`: SQLite copies each value before the call returns).
enum Binder {
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func bind(_ event: StoredEvent, to statement: OpaquePointer) {
        text(event.eventID, 1, statement)
        pseudonym(event.pseudonym, 2, statement)
        sqlite3_bind_int64(statement, 3, Int64(event.epoch))
        text(event.type.rawValue, 4, statement)
        sqlite3_bind_int64(statement, 5, event.timestampMillis)
        if let session = event.session { pseudonym(session, 6, statement) } else { sqlite3_bind_null(statement, 6) }
        optionalText(event.itemID, 7, statement)
        optionalText(event.category, 8, statement)
        if let price = event.price { sqlite3_bind_double(statement, 9, price) } else { sqlite3_bind_null(statement, 9) }
        if let quantity = event.quantity {
            sqlite3_bind_int64(statement, 10, Int64(quantity))
        } else {
            sqlite3_bind_null(statement, 10)
        }
        if let rating = event.rating { sqlite3_bind_int64(statement, 11, Int64(rating)) } else { sqlite3_bind_null(statement, 11) }
        optionalText(event.query, 12, statement)
    }

    /// Binds a vault row to `(pid, epoch, data_key_id, nonce, ciphertext)`.
    static func bind(_ record: VaultRecord, to statement: OpaquePointer) {
        pseudonym(record.pseudonym, 1, statement)
        sqlite3_bind_int64(statement, 2, Int64(record.epoch))
        text(record.dataKeyID, 3, statement)
        blob(record.nonce, 4, statement)
        blob(record.ciphertext, 5, statement)
    }

    private static func blob(_ value: [UInt8], _ index: Int32, _ statement: OpaquePointer) {
        value.withUnsafeBytes { bytes in
            // A non-null pointer even when empty: a zero-length blob, not NULL.
            _ = sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), transient)
        }
    }

    private static func text(_ value: String, _ index: Int32, _ statement: OpaquePointer) {
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

    private static func optionalText(_ value: String?, _ index: Int32, _ statement: OpaquePointer) {
        if let value { text(value, index, statement) } else { sqlite3_bind_null(statement, index) }
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
