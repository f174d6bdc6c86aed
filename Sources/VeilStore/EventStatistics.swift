import VeilCore

/// How many events and how many distinct pseudonyms a set of stored events holds.
public struct EventTally: Sendable, Hashable {
    public var events: Int
    /// Distinct pseudonyms (users) among those events.
    public var pseudonyms: Int

    public init(events: Int, pseudonyms: Int) {
        self.events = events
        self.pseudonyms = pseudonyms
    }
}

/// One UTC day of stored events: the day's tally and one tally per event type that occurs on it.
public struct DayTally: Sendable, Hashable {
    /// The UTC day, as whole days since 1970-01-01 (floor(ts_ms / 86,400,000)).
    public var day: Int64
    /// Every event of the day (its `pseudonyms` counts each user once, whatever the types).
    public var total: EventTally
    /// Only types that occur on the day.
    public var types: [EventType: EventTally]

    public init(day: Int64, total: EventTally, types: [EventType: EventTally]) {
        self.day = day
        self.total = total
        self.types = types
    }
}

/// Exact operational counts of the stored events (`EventStore.statistics`), for operators: not
/// differentially private, never a release to analysts.
public struct StoredEventStatistics: Sendable, Hashable {
    /// Every stored event; `pseudonyms` counts each user once.
    public var total: EventTally
    /// The earliest and latest stored event time (Unix ms); nil when the store is empty.
    public var earliestMillis: Int64?
    public var latestMillis: Int64?
    /// One entry per day that holds an event, oldest first.
    public var days: [DayTally]
    /// The bytes of the database (SQLite: its pages × the page size, as the snapshot sees them;
    /// PostgreSQL: `pg_database_size` of the database). Model artifacts kept as files are not counted.
    public var storageBytes: Int64

    public init(total: EventTally, earliestMillis: Int64?, latestMillis: Int64?, days: [DayTally], storageBytes: Int64) {
        self.total = total
        self.earliestMillis = earliestMillis
        self.latestMillis = latestMillis
        self.days = days
        self.storageBytes = storageBytes
    }

    /// Whole days since 1970-01-01 of `millis`, rounded down (what `DayTally.day` holds).
    public static func day(ofMillis millis: Int64) -> Int64 {
        let dayMillis: Int64 = 86_400_000
        return millis >= 0 ? millis / dayMillis : -((-millis + dayMillis - 1) / dayMillis)
    }

    /// Assembles the statistics from rows of (day, type, events, pseudonyms) and of (day, events,
    /// pseudonyms), as a backend's grouped reads return them; a stored type Veil does not know is a
    /// damaged store.
    public static func assemble(
        typeRows: [(day: Int64, type: String, tally: EventTally)], dayRows: [(day: Int64, tally: EventTally)], total: EventTally,
        earliestMillis: Int64?, latestMillis: Int64?, storageBytes: Int64
    ) throws -> StoredEventStatistics {
        var byDay: [Int64: [EventType: EventTally]] = [:]
        for row in typeRows {
            guard let type = EventType(rawValue: row.type) else {
                throw VeilError(.integrity, field: "events", "a stored event has a type Veil does not know")
            }
            byDay[row.day, default: [:]][type] = row.tally
        }
        let days = dayRows.sorted { $0.day < $1.day }.map { DayTally(day: $0.day, total: $0.tally, types: byDay[$0.day] ?? [:]) }
        return StoredEventStatistics(
            total: total, earliestMillis: earliestMillis, latestMillis: latestMillis, days: days, storageBytes: storageBytes)
    }
}
