import Foundation
import GRDB
import GRDBSQLite
import VeilCore
import VeilStore

/// Reads stored events straight from a prepared SQLite statement, column by index, selected with
/// `EventColumn.selectList`. Training and scoring scan millions of rows; GRDB's `Codable` row decoding looks
/// every column up by name in every row, which cost most of a scan's time.
///
/// Contract: `forEach` binds `arguments` (Int64 or blobs, to `?1`, `?2`, … in order), runs the statement
/// to the end handing each event and its rowid to `body`, and resets the statement on the way out (also
/// when `body` throws). A malformed row throws `.integrity` naming its rowid.
enum EventRowReader {
    /// A value bound to a `?` of the query.
    enum Argument: Sendable {
        case int(Int64)
        case pseudonym(Pseudonym)
        case bytes([UInt8])
    }

    static func forEach(
        _ sql: String, arguments: [Argument], in db: Database, _ body: (StoredEvent, _ rowid: Int64) throws -> Void
    ) throws {
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        defer { sqlite3_reset(statement) }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            switch argument {
            case .int(let value): sqlite3_bind_int64(statement, index, value)
            case .pseudonym(let value): Binder.bind(value, index, statement)
            case .bytes(let value): Binder.blob(value, index, statement)
            }
        }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            let rowid = sqlite3_column_int64(statement, 0)
            try body(try event(statement, rowid: rowid), rowid)
        }
    }

    /// Every event of the query, and the rowid of the last one.
    static func fetch(
        _ sql: String, arguments: [Argument], in db: Database, capacity: Int = 0
    ) throws -> (events: [StoredEvent], lastRowid: Int64?) {
        var events: [StoredEvent] = []
        events.reserveCapacity(capacity)
        var lastRowid: Int64?
        try forEach(sql, arguments: arguments, in: db) { event, rowid in
            events.append(event)
            lastRowid = rowid
        }
        return (events, lastRowid)
    }

    /// The event in the current row, each column read at its `EventColumn.position`.
    private static func event(_ statement: OpaquePointer, rowid: Int64) throws -> StoredEvent {
        func malformed(_ what: String) -> VeilError {
            VeilError(.integrity, field: "events", "a stored \(what) is malformed (rowid \(rowid))")
        }
        guard let eventID = text(statement, .eventID), let pseudonym = pseudonym(statement, .pid),
            let epoch = UInt32(exactly: int(statement, .epoch)),
            let typeName = text(statement, .type), let type = EventType(rawValue: typeName)
        else { throw malformed("event row") }
        var session: Pseudonym?
        if !isNull(statement, .sessionPID) {
            guard let value = self.pseudonym(statement, .sessionPID) else { throw malformed("session pseudonym") }
            session = value
        }
        var properties: [String: Double] = [:]
        if let text = text(statement, .properties) {
            guard let parsed = EventProperties.parse(text) else { throw malformed("event's properties") }
            properties = parsed
        }
        return StoredEvent(
            eventID: eventID, pseudonym: pseudonym, epoch: epoch, type: type,
            timestampMillis: int(statement, .timestamp), session: session, itemID: text(statement, .itemID),
            category: text(statement, .category),
            price: isNull(statement, .price) ? nil : sqlite3_column_double(statement, EventColumn.price.position),
            quantity: isNull(statement, .quantity) ? nil : Int(int(statement, .quantity)),
            rating: isNull(statement, .rating) ? nil : Int(int(statement, .rating)), query: text(statement, .query),
            properties: properties)
    }

    private static func isNull(_ statement: OpaquePointer, _ column: EventColumn) -> Bool {
        sqlite3_column_type(statement, column.position) == SQLITE_NULL
    }

    private static func int(_ statement: OpaquePointer, _ column: EventColumn) -> Int64 {
        sqlite3_column_int64(statement, column.position)
    }

    private static func text(_ statement: OpaquePointer, _ column: EventColumn) -> String? {
        guard !isNull(statement, column), let pointer = sqlite3_column_text(statement, column.position) else { return nil }
        let count = Int(sqlite3_column_bytes(statement, column.position))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    private static func pseudonym(_ statement: OpaquePointer, _ column: EventColumn) -> Pseudonym? {
        guard let pointer = sqlite3_column_blob(statement, column.position) else { return nil }
        return Pseudonym(
            rawBytes: UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, column.position))))
    }
}
