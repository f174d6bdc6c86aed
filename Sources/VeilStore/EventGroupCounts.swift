import Synchronization
import VeilCore

/// How a grouped count splits events: the group expressions of the query language, each a function
/// of one stored event. The one definition of what each key is — `key(of:)` in Swift, `sql` for the
/// backends that count in SQL; the store contract checks that every backend's keys equal `key(of:)`.
///
/// Numeric keys are whole UTC days and weeks rounded down (also before 1970), so a key never depends
/// on where the events were read:
/// - `all`: 0 for every event;
/// - `type`, `category`, `item`: the field's text (an event without a category or item has no key);
/// - `day`: floor(ts_ms / 86,400,000);
/// - `week`: floor((day + 3) / 7), weeks starting on Monday (1970-01-01 was a Thursday);
/// - `hourOfDay`: 0 … 23 (UTC);
/// - `weekday`: 0 (Monday) … 6 (Sunday), (day + 3) mod 7.
public enum EventGrouping: String, Sendable, Hashable, CaseIterable {
    case all, type, category, item, day, week, hourOfDay, weekday

    public static let dayMillis: Int64 = 86_400_000

    /// `event`'s key, or nil when the event falls in no group (no category, no item).
    public func key(of event: StoredEvent) -> EventGroupKey? {
        switch self {
        case .all: return .number(0)
        case .type: return .text(event.type.rawValue)
        case .category: return event.category.map(EventGroupKey.text)
        case .item: return event.itemID.map(EventGroupKey.text)
        case .day, .week, .hourOfDay, .weekday: return .number(number(ofMillis: event.timestampMillis))
        }
    }

    /// The key of an event at `millis` for the calendar groupings (`day`, `week`, `hourOfDay`,
    /// `weekday`); 0 for the others.
    @inline(__always)
    public func number(ofMillis millis: Int64) -> Int64 {
        let day = Self.floorDiv(millis, Self.dayMillis)
        switch self {
        case .day: return day
        case .week: return Self.floorDiv(day + 3, 7)
        case .hourOfDay: return (millis - day * Self.dayMillis) / 3_600_000
        case .weekday: return day + 3 - Self.floorDiv(day + 3, 7) * 7
        default: return 0
        }
    }

    /// Whether the keys are texts (`type`, `category`, `item`) rather than numbers.
    public var hasTextKeys: Bool { self == .type || self == .category || self == .item }

    /// The optional field `key(of:)` reads (the pseudonym, type and time are always read).
    public var field: StoredEventField? {
        switch self {
        case .category: .category
        case .item: .itemID
        default: nil
        }
    }

    /// The key as an SQL expression over the `events` columns, in the integer arithmetic SQLite and
    /// PostgreSQL share (`ts_ms` is a 64-bit integer; `/` truncates toward zero, so floors are spelt
    /// out): text for `hasTextKeys`, a 64-bit integer otherwise. NULL where `key(of:)` is nil.
    public var sql: String {
        let day = Self.floorDivSQL("ts_ms", Self.dayMillis)
        switch self {
        case .all: return "CAST(0 AS BIGINT)"
        case .type: return "type"
        case .category: return "category"
        case .item: return "item_id"
        case .day: return day
        case .week: return Self.floorDivSQL("\(day) + 3", 7)
        case .hourOfDay: return "(ts_ms - \(day) * \(Self.dayMillis)) / 3600000"
        case .weekday: return "(\(day) + 3) - \(Self.floorDivSQL("\(day) + 3", 7)) * 7"
        }
    }

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// floor(`expression` / `divisor`) for a positive divisor, in SQL whose `/` truncates.
    private static func floorDivSQL(_ expression: String, _ divisor: Int64) -> String {
        "(CASE WHEN (\(expression)) >= 0 THEN (\(expression)) / \(divisor) ELSE ((\(expression)) + 1) / \(divisor) - 1 END)"
    }
}

/// A group's key in a grouped count (`EventGrouping`). Texts are equal only byte for byte
/// (`ExactText`), as the stores' `GROUP BY` and `IN` compare them: "é" as one scalar and as "e" with a
/// combining accent are two keys (Swift's `String ==` would take them for one).
public enum EventGroupKey: Sendable, Hashable {
    case text(String)
    case number(Int64)

    public static func == (lhs: EventGroupKey, rhs: EventGroupKey) -> Bool {
        switch (lhs, rhs) {
        case (.text(let a), .text(let b)): ExactText(a) == ExactText(b)
        case (.number(let a), .number(let b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .text(let text): ExactText(text).hash(into: &hasher)
        case .number(let number): hasher.combine(number)
        }
    }
}

/// What a grouped count counts: the events `filter` admits (its time range and types; its `fields`
/// are ignored) whose category is one of `categories` by its bytes (nil: any, also none), split by
/// `grouping`.
public struct EventCountRequest: Sendable, Hashable {
    public var filter: EventFilter
    public var categories: Set<ExactText>?
    public var grouping: EventGrouping

    public init(filter: EventFilter = .all, categories: Set<ExactText>? = nil, grouping: EventGrouping) {
        self.filter = EventFilter(time: filter.time, types: filter.types)
        self.categories = categories
        self.grouping = grouping
    }

    /// The category filter's texts in byte order (`ExactText.order`), as the stores bind them.
    public var sortedCategories: [String]? {
        categories.map { $0.map(\.text).sorted { ExactText.order($0, $1) < 0 } }
    }

    /// Whether `event` is counted (in the group `grouping.key(of:)` gives, if any).
    public func admits(_ event: StoredEvent) -> Bool {
        guard filter.contains(event) else { return false }
        if let categories {
            guard let category = event.category, categories.contains(ExactText(category)) else { return false }
        }
        return true
    }

    /// The filter of a scan that reads what counting needs: the request's events, with the category
    /// (to filter by) and the grouping's field only.
    public var scanFilter: EventFilter {
        var fields: Set<StoredEventField> = []
        if categories != nil { fields.insert(.category) }
        if let field = grouping.field { fields.insert(field) }
        return EventFilter(time: filter.time, types: filter.types, fields: fields)
    }
}

/// Some of one pseudonym's counted events in one group. A (pseudonym, key) may come in several rows
/// (`EventStore.countEvents`); their counts add up.
public struct PseudonymGroupCount: Sendable, Hashable {
    public var pseudonym: Pseudonym
    public var key: EventGroupKey
    public var count: Int64

    public init(pseudonym: Pseudonym, key: EventGroupKey, count: Int64) {
        self.pseudonym = pseudonym
        self.key = key
        self.count = count
    }
}

/// Counts events per (pseudonym, key) in memory, up to `capacity` distinct pairs: the caller drains
/// the rows when `isFull` (or at the end) and goes on, so memory stays bounded whatever the store
/// holds and a pair may come in several rows. Keys are interned.
///
/// Laid out per user, not per pair: a `PseudonymTable` gives each pseudonym one entry and a dense
/// index, and each user has `cellsPerUser` (key, count) cells of 8 bytes in one array; a user's
/// keys beyond those go to a dictionary of pairs. `drain` hands a user's rows out together, so the
/// bounder that takes them finds the user once (docs/queries.md).
///
/// Partitioned, so that what a row touches is in the cache: rows in time order come from every user,
/// and one table of every user (about 140 bytes a user: 15 MB at 10 M events of `make scale`'s data)
/// cost a cache and TLB miss per row — more than SQLite's own read of the row. So the pseudonym space
/// is cut into `partitions` by a hash of the pseudonym, each with its own table and cells, and `add`
/// only stages a row in its partition; when `stagedPerPartition` rows are staged there they are
/// counted together, in that partition's table alone (a few hundred KB, kept in the core's cache while
/// they are). At most `capacity / 2` rows are staged in all (24 bytes each), so each partition counts
/// a batch of about 4 rows per user it holds once the counter nears `capacity`.
public struct PseudonymGroupCounter: Sendable {
    public let capacity: Int
    /// Cells per user (a user's first keys); one user's cells are 64 contiguous bytes.
    public static let cellsPerUser = 8
    /// Partitions of the pseudonym space (`partition(of:)`), each counted apart.
    public static let partitions = 64
    /// Rows a partition stages before counting them: `capacity / (2 × partitions)`, at least 1.
    public let stagedPerPartition: Int

    private var keyIndex: [EventGroupKey: Int32] = [:]
    private var keys: [EventGroupKey] = []
    private var parts: [Partition]
    /// Distinct (pseudonym, key) pairs counted (cells in use plus overflow entries) in every partition.
    private var pairs = 0
    /// Users counted in every partition.
    private var users = 0
    /// Rows staged and not yet counted, in every partition.
    private var staged = 0

    /// One row waiting in its partition to be counted.
    private struct Staged {
        var high: UInt64
        var low: UInt64
        var key: Int32
    }

    private struct Cell {
        /// The interned key; −1: unused (a user's used cells come first).
        var key: Int32 = -1
        var count: UInt32 = 0
    }

    private struct Pair: Hashable {
        var high: UInt64
        var low: UInt64
        var key: Int32
    }

    /// The users of one partition: a dense index each, `cellsPerUser` cells by that index, pairs
    /// beyond the cells (and a cell's count beyond `UInt32.max`) in `overflow`; and its staged rows.
    private struct Partition {
        var users = PseudonymTable(capacity: 16)
        var cells: [Cell] = []
        var overflow: [Pair: Int64] = [:]
        var staged: [Staged] = []

        /// Counts the staged rows, returning the pairs and users they added.
        mutating func countStaged() -> (pairs: Int, users: Int) {
            var newPairs = 0
            let usersBefore = users.count
            let cellsPerUser = PseudonymGroupCounter.cellsPerUser
            for row in staged {
                let pseudonym = Pseudonym(high: row.high, low: row.low)
                let (user, inserted) = users.index(of: pseudonym)
                if inserted { cells.append(contentsOf: repeatElement(Cell(), count: cellsPerUser)) }
                // Whether the event went into a cell, and whether that cell was new.
                let (counted, new): (Bool, Bool) = cells.withUnsafeMutableBufferPointer { cells in
                    let base = user * cellsPerUser
                    for cell in base..<(base + cellsPerUser) {
                        if cells[cell].key == row.key {
                            guard cells[cell].count < UInt32.max else { return (false, false) }
                            cells[cell].count += 1
                            return (true, false)
                        }
                        if cells[cell].key < 0 {
                            cells[cell] = Cell(key: row.key, count: 1)
                            return (true, true)
                        }
                    }
                    return (false, false)
                }
                if new { newPairs += 1 }
                if !counted {
                    let pair = Pair(high: row.high, low: row.low, key: row.key)
                    if overflow[pair] == nil { newPairs += 1 }
                    overflow[pair, default: 0] += 1
                }
            }
            staged.removeAll(keepingCapacity: true)
            return (newPairs, users.count - usersBefore)
        }

        /// Appends the counted rows, each user's together, and forgets them.
        mutating func drain(into rows: inout [PseudonymGroupCount], keys: [EventGroupKey]) {
            let cellsPerUser = PseudonymGroupCounter.cellsPerUser
            users.forEach { pseudonym, user in
                let base = user * cellsPerUser
                for cell in cells[base..<(base + cellsPerUser)] {
                    guard cell.key >= 0 else { break }
                    rows.append(PseudonymGroupCount(pseudonym: pseudonym, key: keys[Int(cell.key)], count: Int64(cell.count)))
                }
            }
            for (pair, count) in overflow {
                rows.append(PseudonymGroupCount(pseudonym: Pseudonym(high: pair.high, low: pair.low), key: keys[Int(pair.key)], count: count))
            }
            users.removeAll()
            cells.removeAll(keepingCapacity: true)
            overflow.removeAll(keepingCapacity: true)
        }
    }

    public init(capacity: Int = 1 << 20) {
        precondition(capacity > 0)
        self.capacity = capacity
        stagedPerPartition = max(1, capacity / (2 * Self.partitions))
        parts = Array(repeating: Partition(), count: Self.partitions)
    }

    public var isEmpty: Bool { pairs == 0 && staged == 0 }
    /// Whether it has counted `capacity` pairs, or users whose cells could hold that many: its memory is
    /// then at most about 24 bytes per unit of capacity (8 in cells, up to 16 of table), the overflow's
    /// pairs, and the staged rows (at most `capacity / 2`, 24 bytes each). A drain then holds at most
    /// the pairs counted plus those of the staged rows.
    public var isFull: Bool { pairs >= capacity || users * Self.cellsPerUser >= capacity }

    /// The interned index of `key`, to pass to `add(_:keyIndex:)`.
    public mutating func index(of key: EventGroupKey) -> Int32 {
        if let index = keyIndex[key] { return index }
        let index = Int32(keys.count)
        keys.append(key)
        keyIndex[key] = index
        return index
    }

    /// Counts one event of `pseudonym` in the group interned as `keyIndex` (staged: counted with the
    /// rest of its partition's batch, at the latest by `drain`).
    @inline(__always)
    public mutating func add(_ pseudonym: Pseudonym, keyIndex: Int32) {
        let part = Self.partition(of: pseudonym)
        parts[part].staged.append(Staged(high: pseudonym.high, low: pseudonym.low, key: keyIndex))
        staged += 1
        if parts[part].staged.count >= stagedPerPartition { countStaged(part) }
    }

    /// Counts one event of `pseudonym` in the group `key`.
    public mutating func add(_ pseudonym: Pseudonym, key: EventGroupKey) {
        add(pseudonym, keyIndex: index(of: key))
    }

    /// The counted rows, each user's together (partition by partition, users in no particular order),
    /// leaving the counter empty. A (pseudonym, key) whose cell filled up and went on in `overflow`
    /// comes in two rows.
    public mutating func drain() -> [PseudonymGroupCount] {
        for part in parts.indices where !parts[part].staged.isEmpty { countStaged(part) }
        var rows: [PseudonymGroupCount] = []
        rows.reserveCapacity(pairs)
        for part in parts.indices { parts[part].drain(into: &rows, keys: keys) }
        pairs = 0
        users = 0
        return rows
    }

    /// The partition of `pseudonym`: the top bits of a multiplicative hash of both halves (pseudonyms
    /// are keyed hashes already, but test fixtures use sequential ones), independent of the bits
    /// `PseudonymTable` takes its slots from.
    @inline(__always)
    static func partition(of pseudonym: Pseudonym) -> Int {
        Int(truncatingIfNeeded: ((pseudonym.high ^ pseudonym.low) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - partitions.trailingZeroBitCount))
    }

    private mutating func countStaged(_ part: Int) {
        staged -= parts[part].staged.count
        let added = parts[part].countStaged()
        pairs += added.pairs
        users += added.users
    }
}

extension EventStore {
    /// The default `countEvents`: counted from `scan` (`EventCountRequest.count(scanning:)`).
    public func countEvents(
        _ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void
    ) async throws {
        try await request.count(scanning: { filter, chunk in try await scan(filter, chunkSize: 65_536, chunk) }, body)
    }
}

extension EventCountRequest {
    /// The grouped count from a scan (`scan(filter, body)` reads as `EventStore.scan` does): what every
    /// backend answers unless it counts closer to its data. Counts each chunk's events as they come,
    /// handing the rows on whenever the counter holds `capacity` pairs, and at the end.
    public func count(
        scanning scan: (EventFilter, @escaping @Sendable ([StoredEvent]) throws -> Void) async throws -> Void,
        capacity: Int = 1 << 20, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void
    ) async throws {
        let counter = CounterBox(PseudonymGroupCounter(capacity: capacity))
        try await scan(scanFilter) { chunk in
            try counter.withLock { counter in
                for event in chunk where admits(event) {
                    guard let key = grouping.key(of: event) else { continue }
                    counter.add(event.pseudonym, key: key)
                    if counter.isFull { try body(counter.drain()) }
                }
            }
        }
        let rest = counter.withLock { $0.drain() }
        if !rest.isEmpty { try body(rest) }
    }
}

/// A counter shared with a scan's callbacks, which come one at a time.
private final class CounterBox: Sendable {
    private let counter: Mutex<PseudonymGroupCounter>
    init(_ counter: PseudonymGroupCounter) { self.counter = Mutex(counter) }
    func withLock<T: Sendable>(_ body: (inout PseudonymGroupCounter) throws -> T) rethrows -> T { try counter.withLock { try body(&$0) } }
}
