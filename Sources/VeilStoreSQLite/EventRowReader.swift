import Foundation
import GRDB
import GRDBSQLite
import VeilCore
import VeilStore

/// Reads stored events straight from a prepared SQLite statement, column by index, selected with an
/// `EventSelection` (`EventColumn.selectList`: every column). Training and scoring scan millions of rows; GRDB's `Codable` row decoding looks
/// every column up by name in every row, which cost most of a scan's time.
///
/// Contract: `forEach` binds `arguments` (Int64 or blobs, to `?1`, `?2`, … in order), runs the statement
/// (whose result columns are `selection`'s) to the end handing each event and its rowid to `body`, and resets the statement on the way out (also
/// when `body` throws). A malformed row throws `.integrity` naming its rowid.
enum EventRowReader {
    /// A value bound to a `?` of the query.
    enum Argument: Sendable {
        case int(Int64)
        case pseudonym(Pseudonym)
        case bytes([UInt8])
        case text(String)
    }

    static func forEach(
        _ sql: String, selection: EventSelection = .all, arguments: [Argument], in db: Database,
        _ body: (StoredEvent, _ rowid: Int64) throws -> Void
    ) throws {
        try forEachRow(sql, arguments: arguments, in: db) { statement in
            let rowid = sqlite3_column_int64(statement, 0)
            try body(try Row(statement: statement, selection: selection).event(rowid: rowid), rowid)
        }
    }

    /// Binds `arguments`, steps the statement of `sql` to the end handing `body` the statement at each
    /// row (to read its columns), and resets it on the way out, also when `body` throws.
    static func forEachRow(
        _ sql: String, arguments: [Argument], in db: Database, _ body: (_ statement: OpaquePointer) throws -> Void
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
            case .text(let value): Binder.text(value, index, statement)
            }
        }
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            try body(statement)
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

    /// The current row of a statement, read through its selection: an unselected column reads as NULL.
    private struct Row {
        let statement: OpaquePointer
        let selection: EventSelection

        /// The event in the row; the fields of unselected columns are empty.
        func event(rowid: Int64) throws -> StoredEvent {
            func malformed(_ what: String) -> VeilError {
                VeilError(.integrity, field: "events", "a stored \(what) is malformed (rowid \(rowid))")
            }
            guard let pseudonym = pseudonym(.pid), let epoch = UInt32(exactly: int(.epoch) ?? -1),
                let typeName = text(.type), let type = EventType(rawValue: typeName), let timestamp = int(.timestamp)
            else { throw malformed("event row") }
            let eventID: String
            if selection.result(.eventID) != nil {
                guard let text = text(.eventID) else { throw malformed("event row") }
                eventID = text
            } else {
                eventID = ""
            }
            var session: Pseudonym?
            if !isNull(.sessionPID) {
                guard let value = self.pseudonym(.sessionPID) else { throw malformed("session pseudonym") }
                session = value
            }
            var properties: [String: Double] = [:]
            if let text = text(.properties) {
                guard let parsed = EventProperties.parse(text) else { throw malformed("event's properties") }
                properties = parsed
            }
            return StoredEvent(
                eventID: eventID, pseudonym: pseudonym, epoch: epoch, type: type, timestampMillis: timestamp, session: session,
                itemID: text(.itemID), category: text(.category), price: double(.price), quantity: int(.quantity).map { Int($0) },
                rating: int(.rating).map { Int($0) }, query: text(.query), properties: properties)
        }

        /// The result index of `column` when it is selected and not NULL.
        @inline(__always)
        private func present(_ column: EventColumn) -> Int32? {
            guard let index = selection.result(column), sqlite3_column_type(statement, index) != SQLITE_NULL else { return nil }
            return index
        }

        private func isNull(_ column: EventColumn) -> Bool { present(column) == nil }

        private func int(_ column: EventColumn) -> Int64? {
            present(column).map { sqlite3_column_int64(statement, $0) }
        }

        private func double(_ column: EventColumn) -> Double? {
            present(column).map { sqlite3_column_double(statement, $0) }
        }

        private func text(_ column: EventColumn) -> String? {
            guard let index = present(column), let pointer = sqlite3_column_text(statement, index) else { return nil }
            let count = Int(sqlite3_column_bytes(statement, index))
            return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
        }

        private func pseudonym(_ column: EventColumn) -> Pseudonym? {
            guard let index = present(column), let pointer = sqlite3_column_blob(statement, index) else { return nil }
            return Pseudonym(rawBytes: UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, index))))
        }
    }
}
