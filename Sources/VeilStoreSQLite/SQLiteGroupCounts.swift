import Foundation
import GRDB
import GRDBSQLite
import VeilCore
import VeilStore

/// `EventStore.countEvents` on SQLite: the readers count as they read.
///
/// SQLite has no hash aggregate: `GROUP BY pid, category` sorts every row first, which measured 11.5
/// CPU-seconds on 5 M events where reading the same columns took 1.0 (sqlite3 3.40, docs/queries.md).
/// So the readers select only the pseudonym and what the key needs (the key's text column, or `ts_ms`
/// for a calendar key, whose number is `EventGrouping.number(ofMillis:)`) and count into a
/// `PseudonymGroupCounter` of their own, building no `StoredEvent`. Over the whole store both readers
/// of a `TwoReaderScan` count (one snapshot, the scan's witness); each hands its rows on when its
/// counter is full and after its last range, so the engine bounds a few rows per (pseudonym, group)
/// instead of every event. With a time range, one reader seeks the days in `events_day_pid`.
extension SQLiteEventStore {
    /// Distinct (pseudonym, key) pairs a reader counts before handing its rows on: at most about
    /// 25 MB of cells and table and 12 MB of staged rows (`PseudonymGroupCounter.isFull`), more when
    /// users have over 8 keys.
    static let countCapacity = 1 << 20
    /// Rowids per range of a two-reader count (as the scan's chunks).
    static let countRangeWidth = 65_536

    func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws {
        try await countEvents(request, rangeWidth: Self.countRangeWidth, capacity: Self.countCapacity, body)
    }

    /// `countEvents` with two-reader ranges of `rangeWidth` rowids and readers holding up to `capacity` pairs.
    func countEvents(
        _ request: EventCountRequest, rangeWidth: Int, capacity: Int, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void
    ) async throws {
        guard let statement = Self.countStatement(request) else { return }
        let grouping = request.grouping
        if request.filter.time == nil {
            let next = statement.arguments.count + 1
            let sql = statement.sql + " AND rowid >= ?\(next) AND rowid < ?\(next + 1)"
            let arguments = statement.arguments
            let counted = try await TwoReaderScan.run(
                database: database, rangeWidth: rangeWidth,
                reader: { _ in
                    var counter = PseudonymGroupCounter(capacity: capacity)
                    return { db, start, end, isLast in
                        try Self.count(sql, arguments: arguments + [.int(start), .int(end)], grouping: grouping, into: &counter, in: db)
                        return counter.isFull || isLast ? counter.drain() : []
                    }
                }, body)
            if counted { return }
        }
        try await database.read("events.count_groups") { db in
            var counter = PseudonymGroupCounter(capacity: capacity)
            try Self.count(statement.sql, arguments: statement.arguments, grouping: grouping, into: &counter, in: db) { full in
                try CallerError.marking { try body(full.drain()) }
            }
            if !counter.isEmpty { try CallerError.marking { try body(counter.drain()) } }
        }
    }

    /// The read of what `request` counts — `pid`, then the key's column (`ts_ms` for calendar keys, none
    /// for `all`) — with its arguments; nil when it admits nothing. Conditions as `scanConditions`, the
    /// categories bound as arguments, and rows without a key left out.
    static func countStatement(_ request: EventCountRequest) -> (sql: String, arguments: [EventRowReader.Argument])? {
        guard var scan = scanConditions(request.filter) else { return nil }
        if let sorted = request.sortedCategories {
            guard !sorted.isEmpty else { return nil }
            let first = scan.arguments.count + 1
            scan.conditions.append("category IN (\(sorted.indices.map { "?\(first + $0)" }.joined(separator: ", ")))")
            scan.arguments += sorted.map { .text($0) }
        }
        let column: String? =
            switch request.grouping {
            case .all: nil
            case .type: "type"
            case .category: "category"
            case .item: "item_id"
            case .day, .week, .hourOfDay, .weekday: "ts_ms"
            }
        if let column, request.grouping.hasTextKeys { scan.conditions.append("\(column) IS NOT NULL") }
        let select = "SELECT pid" + (column.map { ", " + $0 } ?? "") + " FROM events"
        return (select + " WHERE " + (scan.conditions.isEmpty ? ["1"] : scan.conditions).joined(separator: " AND "), scan.arguments)
    }

    /// Counts every row of `sql` (a `countStatement`) into `counter`, calling `full` whenever it is full.
    static func count(
        _ sql: String, arguments: [EventRowReader.Argument], grouping: EventGrouping, into counter: inout PseudonymGroupCounter,
        in db: Database, whenFull full: ((inout PseudonymGroupCounter) throws -> Void)? = nil
    ) throws {
        var texts = TextKeyIndex()
        var lastNumber: Int64 = .min
        var lastNumberIndex: Int32 = -1
        let all = counter.index(of: .number(0))
        // Asked once, not per row (the grouping's properties are not inlined across modules).
        let (countsAll, hasTextKeys) = (grouping == .all, grouping.hasTextKeys)
        try EventRowReader.forEachRow(sql, arguments: arguments, in: db) { statement in
            guard let blob = sqlite3_column_blob(statement, 0),
                let pseudonym = Pseudonym(rawBytes: UnsafeRawBufferPointer(start: blob, count: Int(sqlite3_column_bytes(statement, 0))))
            else { throw VeilError(.integrity, field: "events", "a stored pseudonym is malformed") }
            let keyIndex: Int32
            if countsAll {
                keyIndex = all
            } else if hasTextKeys {
                guard let text = sqlite3_column_text(statement, 1) else { return }
                let bytes = UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, 1)))
                keyIndex = texts.index(of: bytes) { counter.index(of: .text($0)) }
            } else {
                let number = grouping.number(ofMillis: sqlite3_column_int64(statement, 1))
                if number != lastNumber || lastNumberIndex < 0 {
                    lastNumber = number
                    lastNumberIndex = counter.index(of: .number(number))
                }
                keyIndex = lastNumberIndex
            }
            counter.add(pseudonym, keyIndex: keyIndex)
            if let full, counter.isFull { try full(&counter) }
        }
    }
}

/// The counter's index of each text key a count has met, found from the column's bytes: a row costs a
/// hash of its key's bytes and one comparison, no `String` and no allocation. Rows in time order
/// rarely share their neighbour's key (a category changes from one row to the next), so remembering
/// only the last key, as the count first did, built an array, a string and a dictionary lookup for
/// almost every row (0.1 µs of a row's 0.6–0.8 µs on a 10 M-event store, docs/queries.md).
struct TextKeyIndex {
    /// One interned key: where its bytes are in `bytes`, their hash and the counter's index (−1: empty).
    private struct Entry {
        var hash: UInt64 = 0
        var start: Int32 = 0
        var count: Int32 = 0
        var index: Int32 = -1
    }

    /// Every interned key's UTF-8 bytes, back to back.
    private var bytes: [UInt8] = []
    /// Open addressing (linear probing, load at most ½).
    private var entries = [Entry](repeating: Entry(), count: 64)
    private var used = 0

    /// The index of the key spelt by `text`; the first time, `intern(text as a String)` gives it.
    @inline(__always)
    mutating func index(of text: UnsafeBufferPointer<UInt8>, intern: (String) -> Int32) -> Int32 {
        let hash = Self.hash(text)
        var position = Int(truncatingIfNeeded: hash) & (entries.count - 1)
        while entries[position].index >= 0 {
            let entry = entries[position]
            if entry.hash == hash && Int(entry.count) == text.count
                && bytes.withUnsafeBufferPointer({ stored in
                    text.isEmpty || memcmp(stored.baseAddress! + Int(entry.start), text.baseAddress!, text.count) == 0
                })
            {
                return entry.index
            }
            position = (position + 1) & (entries.count - 1)
        }
        let index = intern(String(decoding: text, as: UTF8.self))
        entries[position] = Entry(hash: hash, start: Int32(bytes.count), count: Int32(text.count), index: index)
        bytes.append(contentsOf: text)
        used += 1
        if used * 2 > entries.count { grow() }
        return index
    }

    /// 64-bit FNV-1a of the bytes, its high bits folded down (the table is indexed by the low ones).
    @inline(__always)
    private static func hash(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash ^ (hash >> 29)
    }

    private mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(), count: old.count * 2)
        for entry in old where entry.index >= 0 {
            var position = Int(truncatingIfNeeded: entry.hash) & (entries.count - 1)
            while entries[position].index >= 0 { position = (position + 1) & (entries.count - 1) }
            entries[position] = entry
        }
    }
}
