import Foundation
import GRDB
import VeilCore
import VeilStore

/// The chunked scan of every event in (pid, ts_ms, rowid) order, for `SQLiteEventStore.events(after:limit:)`.
///
/// `events_day_pid` is led by the day, so no index walks all events in pid order. The scan reads one
/// range of pseudonyms at a time — from the cursor to `span` further on the first 8 bytes of the pid —
/// by seeking the range in each day's stretch of the index and sorting what it finds (in memory: a
/// range holds about one chunk). Pseudonyms are keyed hashes, spread evenly over their space, so a
/// range `span` wide holds about `events × span / 2⁶⁴` events; `span` is the width that holds 0.8 ×
/// `limit` on average, from the event count when the scan started (the cursor's `scanSize`). A range
/// holding more than `limit` events is read in several chunks (each resumes after the last event
/// returned); an empty one is skipped. The cursor is the backend-neutral `EventCursor`: a range's end
/// is handed back as the position just before its first pseudonym.
struct PseudonymRangeScan {
    private var cursor: EventCursor

    /// The scan's start, or nil when the store holds no event.
    init?(in db: Database) throws {
        let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0
        guard count > 0 else { return nil }
        cursor = Self.rangeStart(0, scanSize: count)
    }

    /// Resumes a scan where `cursor` left it.
    init(resuming cursor: EventCursor) { self.cursor = cursor }

    /// The next chunk: up to `limit` events, never empty unless the scan is over, and the cursor after it.
    mutating func next(limit: Int, in db: Database) throws -> EventChunk {
        while true {
            let rangeEnd = Self.rangeEnd(from: cursor, limit: limit)
            let (events, rowids) = try rangeAfterCursor(end: rangeEnd, in: db, capacity: limit)
            if events.count >= limit {
                // The range may hold more than a chunk: return the first `limit`, go on inside it.
                let last = limit - 1
                let next = EventCursor(
                    pseudonym: events[last].pseudonym, timestampMillis: events[last].timestampMillis, sequence: rowids[last],
                    scanSize: cursor.scanSize)
                return EventChunk(events: Array(events.prefix(limit)), next: next)
            }
            guard let rangeEnd else { return EventChunk(events: events, next: nil) }
            cursor = Self.rangeStart(rangeEnd, scanSize: cursor.scanSize)
            if !events.isEmpty { return EventChunk(events: events, next: cursor) }
        }
    }

    /// The first 8 bytes of the first pseudonym past the range read from `cursor`; nil when the range
    /// runs to the end of the space.
    private static func rangeEnd(from cursor: EventCursor, limit: Int) -> UInt64? {
        guard cursor.scanSize > limit else { return nil }
        let span = UInt64(max(1, (Double(limit) * 0.8 / Double(cursor.scanSize) * 0x1p64).rounded(.down)))
        let (end, overflow) = cursor.pseudonym.high.addingReportingOverflow(span)
        return overflow ? nil : end
    }

    /// Every event of the current range after the cursor, in (pid, ts_ms, rowid) order, with rowids.
    /// SQLite reads them day by day, unordered; sorting small keys here and moving each event once
    /// costs a fraction of an `ORDER BY`, which copies whole rows into a temporary B-tree.
    private func rangeAfterCursor(end: UInt64?, in db: Database, capacity: Int) throws -> (events: [StoredEvent], rowids: [Int64]) {
        let end = end.map { Pseudonym(high: $0, low: 0).bytes } ?? Self.pastEveryPseudonym
        var unordered: [StoredEvent] = []
        var keys: [(pseudonym: Pseudonym, timestamp: Int64, rowid: Int64, index: Int)] = []
        unordered.reserveCapacity(capacity)
        keys.reserveCapacity(capacity)
        try EventRowReader.forEach(
            """
            \(EventSchema.daysCTE)
            SELECT \(EventColumn.selectList) FROM days CROSS JOIN events
            WHERE \(EventSchema.eventOnDay) AND events.pid >= ?1 AND events.pid < ?2
                AND (events.pid, events.ts_ms, events.rowid) > (?1, ?3, ?4)
            """,
            arguments: [.pseudonym(cursor.pseudonym), .bytes(end), .int(cursor.timestampMillis), .int(cursor.sequence)],
            in: db
        ) { event, rowid in
            keys.append((event.pseudonym, event.timestampMillis, rowid, unordered.count))
            unordered.append(event)
        }
        keys.sort { ($0.pseudonym, $0.timestamp, $0.rowid) < ($1.pseudonym, $1.timestamp, $1.rowid) }
        return (keys.map { unordered[$0.index] }, keys.map(\.rowid))
    }

    /// The cursor before every event whose pseudonym starts at or after `start` (rowids are positive,
    /// so (start pid, Int64.min, Int64.min) is less than every row at or after the start pid).
    private static func rangeStart(_ start: UInt64, scanSize: Int) -> EventCursor {
        EventCursor(pseudonym: Pseudonym(high: start, low: 0), timestampMillis: .min, sequence: .min, scanSize: scanSize)
    }

    /// A blob greater than every 16-byte pid (SQLite compares blobs with memcmp, then by length).
    private static let pastEveryPseudonym = [UInt8](repeating: 0xFF, count: 17)
}
