import Foundation
import GRDB
import VeilCore
import VeilStore

/// The event store's tables:
///
/// - `events`: one row per stored event, appended in arrival order (the rowid). `event_id` is unique
///   (the idempotency key); `pid` and `session_pid` are 16-byte pseudonym blobs (byte order of the
///   digest, so blob order is `Pseudonym` order); `ts_ms` is Unix milliseconds. One secondary index,
///   `events_day_pid` on (UTC day, pid, ts_ms) (migration `v3-events-day-pid`).
/// - `vault`: pid → escrowed raw ID (nonce + ciphertext under a data key). No plaintext.
/// - `data_keys`: the sealed data keys vault rows refer to.
///
/// Why the day leads the index: events arrive roughly in time order, so a batch's index entries land
/// in the last few days' stretch of the index, which stays in the page cache and is written once per
/// commit. An index led by the pid (v1's `(pid, ts_ms)`) took every event at a random place and
/// dirtied most of its pages on every commit: it cost more than the table and the `event_id` index
/// together, and capped imports near 100k events/s. The price is paid by per-user reads, which seek
/// the index once per stored day (`daysCTE`): about 5 µs a day, 0.4 ms for a user over 80 days.
enum EventSchema {
    /// The indexed UTC day of an event; queries must spell it exactly so for SQLite to use the index.
    static let dayExpression = "ts_ms / 86400000"

    /// The value `dayExpression` has for an event at `millis` (SQLite's integer division truncates
    /// toward zero, as Swift's does).
    static func day(_ millis: Int64) -> Int64 { millis / 86_400_000 }

    /// The UTC day of an event rounded down (`StoredEventStatistics.day(ofMillis:)`), also before 1970,
    /// where `dayExpression` truncates toward zero. Not indexed: for reads that group every row.
    static let floorDayExpression = "(CASE WHEN ts_ms >= 0 THEN ts_ms / 86400000 ELSE (ts_ms + 1) / 86400000 - 1 END)"

    /// A recursive common table expression `days(day)` listing every day that holds an event, in
    /// increasing order, with one index seek per day. Start a statement with it, then join
    /// `days CROSS JOIN events WHERE \(eventOnDay) AND events.pid …` to seek one pid (or a pid range)
    /// in each day's stretch of `events_day_pid`.
    static let daysCTE = """
        WITH RECURSIVE days(day) AS (
            SELECT MIN(\(dayExpression)) FROM events
            UNION ALL
            SELECT (SELECT MIN(\(dayExpression)) FROM events WHERE \(dayExpression) > days.day) FROM days
            WHERE days.day IS NOT NULL)
        """

    /// The join condition of `days CROSS JOIN events` that seeks each day's stretch of the index.
    static let eventOnDay = "events.\(dayExpression) = days.day"

    /// `events.properties`: an event's free-form properties as `EventProperties` text, NULL for none.
    /// Registered after every other store's migrations (`VeilDatabase.migrator`).
    static func registerPropertiesMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-event-properties") { db in
            try db.execute(sql: "ALTER TABLE events ADD COLUMN properties TEXT")
        }
    }

    static let registrar: @Sendable (inout DatabaseMigrator) -> Void = { migrator in
        migrator.registerMigration("v1-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE data_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        sealed BLOB NOT NULL,
                        created DATETIME NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE vault (
                        pid BLOB PRIMARY KEY NOT NULL CHECK (length(pid) = 16),
                        epoch INTEGER NOT NULL,
                        data_key_id TEXT NOT NULL REFERENCES data_keys(id),
                        nonce BLOB NOT NULL,
                        ciphertext BLOB NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE events (
                        event_id TEXT NOT NULL UNIQUE,
                        pid BLOB NOT NULL CHECK (length(pid) = 16),
                        epoch INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        ts_ms INTEGER NOT NULL,
                        session_pid BLOB,
                        item_id TEXT,
                        category TEXT,
                        price REAL,
                        quantity INTEGER,
                        rating INTEGER,
                        query TEXT
                    );
                    CREATE INDEX events_pid_ts ON events(pid, ts_ms);
                    """)
        }
        migrator.registerMigration("v2-events-day") { db in
            try db.execute(sql: "CREATE INDEX events_day ON events(\(dayExpression))")
        }
        migrator.registerMigration("v3-events-day-pid") { db in
            try db.execute(
                sql: """
                    DROP INDEX events_pid_ts;
                    DROP INDEX events_day;
                    CREATE INDEX events_day_pid ON events(\(dayExpression), pid, ts_ms);
                    """)
        }
    }
}

/// A row of `vault`, as GRDB reads it (writes bind columns directly, `SQLiteEventStore.commit`).
struct VaultRow: Decodable, FetchableRecord, TableRecord {
    static let databaseTableName = "vault"
    var pid: Data
    var epoch: Int64
    var dataKeyID: String
    var nonce: Data
    var ciphertext: Data

    enum CodingKeys: String, CodingKey {
        case pid, epoch, nonce, ciphertext
        case dataKeyID = "data_key_id"
    }

    var record: VaultRecord? {
        guard let pseudonym = Pseudonym(bytes: pid), let epoch = UInt32(exactly: epoch) else { return nil }
        return VaultRecord(
            pseudonym: pseudonym, epoch: epoch, dataKeyID: dataKeyID, nonce: [UInt8](nonce),
            ciphertext: [UInt8](ciphertext))
    }
}

/// A row of `data_keys`, as GRDB reads it.
struct DataKeyRow: Decodable, FetchableRecord, TableRecord {
    static let databaseTableName = "data_keys"
    var id: String
    var sealed: Data
    var created: Date

    var record: DataKeyRecord { DataKeyRecord(id: id, sealed: [UInt8](sealed), created: created) }
}

/// The columns of `events` an event is stored in, in table order: the one definition of the event row
/// (migration `v1-events` created the table, `v4-event-properties` added `properties`; migrations are
/// history and are never edited).
///
/// A column's `position` is both its parameter in `insertSQL` (`?1` … `?13`, bound by `Binder`) and its
/// result column in a read of `selectList` (column 0 is the rowid, read by `EventRowReader`), so
/// adding a column is one case here plus its bind and its read.
enum EventColumn: Int32, CaseIterable {
    case eventID = 1, pid, epoch, type, timestamp, sessionPID, itemID, category, price, quantity, rating, query, properties

    var name: String {
        switch self {
        case .eventID: "event_id"
        case .pid: "pid"
        case .epoch: "epoch"
        case .type: "type"
        case .timestamp: "ts_ms"
        case .sessionPID: "session_pid"
        case .itemID: "item_id"
        case .category: "category"
        case .price: "price"
        case .quantity: "quantity"
        case .rating: "rating"
        case .query: "query"
        case .properties: "properties"
        }
    }

    /// The bind index in `insertSQL` and the result index in a read of `selectList`.
    var position: Int32 { rawValue }

    /// The optional field the column holds; nil for the columns every read needs.
    var field: StoredEventField? {
        switch self {
        case .pid, .epoch, .type, .timestamp: nil
        case .eventID: .eventID
        case .sessionPID: .session
        case .itemID: .itemID
        case .category: .category
        case .price: .price
        case .quantity: .quantity
        case .rating: .rating
        case .query: .query
        case .properties: .properties
        }
    }

    /// What a read of whole events selects: the rowid, then every column in order.
    static let selectList = EventSelection.all.sql

    /// Inserts one event; a known `event_id` is a duplicate and changes nothing.
    static let insertSQL = """
        INSERT INTO events (\(allCases.map(\.name).joined(separator: ", "))) VALUES (\(allCases.map { _ in "?" }.joined(separator: ", "))) \
        ON CONFLICT(event_id) DO NOTHING
        """
}

/// The result columns of a read of events: the rowid (result 0), then the selected columns in table
/// order. A read of whole events (`all`) selects every column, each at its `EventColumn.position`; a
/// read that needs only some fields (`EventFilter.fields`) selects those and the columns every read
/// needs, and nothing else: SQLite neither extracts nor hands over a column it does not select, and
/// `EventRowReader` leaves the unselected fields empty. (Selecting the others as constants, as before,
/// still cost SQLite a result value per column per row: a third of a grouped count's scan.)
struct EventSelection: Sendable {
    /// The selected columns, in table order.
    let columns: [EventColumn]
    /// The result index of each column, by `EventColumn.rawValue` (0: not selected; result 0 is the rowid).
    private let results: [Int32]

    /// Every column, and no fewer.
    static let all = EventSelection(reading: nil)

    /// The columns that `fields` (nil: every field) and every read need.
    init(reading fields: Set<StoredEventField>?) {
        columns = EventColumn.allCases.filter { column in
            guard let fields, let field = column.field else { return true }
            return fields.contains(field)
        }
        var results = [Int32](repeating: 0, count: EventColumn.allCases.count + 1)
        for (offset, column) in columns.enumerated() { results[Int(column.rawValue)] = Int32(offset + 1) }
        self.results = results
    }

    /// The select list: `events.rowid`, then the selected columns' names.
    var sql: String { (["events.rowid"] + columns.map(\.name)).joined(separator: ", ") }

    /// The result index of `column`, or nil when it is not selected.
    @inline(__always)
    func result(_ column: EventColumn) -> Int32? {
        let index = results[Int(column.rawValue)]
        return index > 0 ? index : nil
    }
}
