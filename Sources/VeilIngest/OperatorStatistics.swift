import VeilCore
import VeilStore

/// What `veil stats` and `GET /v1/stats` show: exact counts of the stored events per UTC day and
/// type, the stored time range and the database's size. Operational, not differentially private:
/// for the operator (role admin) only, audited on every read; analysts use DP queries.
///
/// JSON: `{"notice", "differentially_private": false, "events", "pseudonyms", "first_event",
/// "last_event", "database_bytes", "audit_seq", "days": [{"date", "events", "pseudonyms", "types":
/// {type: {"events", "pseudonyms"}}}]}`; times are RFC 3339 (UTC), absent when the store is empty.
public struct OperatorStatisticsReport: Sendable, Codable, Equatable {
    /// Events and distinct pseudonyms.
    public struct Tally: Sendable, Codable, Equatable {
        public var events: Int
        public var pseudonyms: Int
    }

    /// One UTC day that holds events.
    public struct Day: Sendable, Codable, Equatable {
        /// `YYYY-MM-DD` (UTC).
        public var date: String
        public var events: Int
        /// Distinct pseudonyms of the day, each counted once whatever the types.
        public var pseudonyms: Int
        /// Per event type that occurs on the day.
        public var types: [String: Tally]
    }

    /// The label every output carries.
    public static let notice =
        "operational statistics: exact counts, not differentially private; for the operator only (analysts use veil query)"

    public var notice: String
    public var differentiallyPrivate: Bool
    public var events: Int
    /// Distinct pseudonyms among the stored events.
    public var pseudonyms: Int
    public var firstEvent: String?
    public var lastEvent: String?
    public var databaseBytes: Int64
    /// The seq of the `stats.read` record this read wrote.
    public var auditSeq: UInt64
    /// Oldest first.
    public var days: [Day]

    enum CodingKeys: String, CodingKey {
        case notice, events, pseudonyms, days
        case differentiallyPrivate = "differentially_private"
        case firstEvent = "first_event"
        case lastEvent = "last_event"
        case databaseBytes = "database_bytes"
        case auditSeq = "audit_seq"
    }

    init(_ statistics: StoredEventStatistics, auditSeq: UInt64) {
        notice = Self.notice
        differentiallyPrivate = false
        events = statistics.total.events
        pseudonyms = statistics.total.pseudonyms
        firstEvent = statistics.earliestMillis.map(RFC3339.format(millis:))
        lastEvent = statistics.latestMillis.map(RFC3339.format(millis:))
        databaseBytes = statistics.storageBytes
        self.auditSeq = auditSeq
        days = statistics.days.map { day in
            Day(
                date: CivilDate.label(millis: day.day * 86_400_000), events: day.total.events, pseudonyms: day.total.pseudonyms,
                types: Dictionary(
                    uniqueKeysWithValues: day.types.map { ($0.key.rawValue, Tally(events: $0.value.events, pseudonyms: $0.value.pseudonyms)) }))
        }
    }
}

/// The operator's statistics use case (`veil stats`, `GET /v1/stats`). The faces decide who may call
/// it (the gateway: role admin; the CLI: whoever can open the data directory and its keys).
public struct OperatorStatistics: Sendable {
    private let events: any EventStore
    private let audit: any AuditRecording

    public init(events: any EventStore, audit: any AuditRecording) {
        self.events = events
        self.audit = audit
    }

    /// Reads the statistics, records `stats.read` by `actor` (durably, before anything is returned)
    /// and returns them. Spends no privacy budget: the numbers are exact and go to the operator only.
    public func read(actor: String) async throws -> OperatorStatisticsReport {
        let statistics = try await events.statistics()
        let seq = try await audit.record(
            actor: actor, action: .statsRead,
            details: ["events": .int(Int64(statistics.total.events)), "days": .int(Int64(statistics.days.count))])
        return OperatorStatisticsReport(statistics, auditSeq: seq)
    }
}
