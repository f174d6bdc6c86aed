import Foundation
import VeilCore

/// The event rules (docs/ingest.md), applied in one place to events from HTTP, NDJSON files and CSV
/// files alike. Every broken rule becomes one `EventProblemDraft` naming the field and the rule —
/// never the value.
struct EventValidator: Sendable {
    /// Byte-length limits, inclusive.
    static let eventIDBytes = 1...128
    static let userIDBytes = UserID.byteCount
    static let sessionIDBytes = 1...256
    static let itemIDBytes = 1...256
    static let categoryBytes = 1...128
    static let queryBytes = 1...1024
    static let ratings = 1...5

    /// How far in the future a timestamp may be, in milliseconds (policy `ingest.max_future_skew_seconds`).
    var maxFutureSkewMillis: Int64
    /// A custom timestamp format (import `--timestamp-format`); nil means RFC 3339.
    var timestampFormat: TimestampFormat?
    /// Extra type names (import `--event-type-map`), consulted before the canonical names and GA4 aliases.
    var typeAliases: [String: EventType] = [:]

    /// Validates one event against the clock reading `nowMillis`. Returns the event, or appends every
    /// problem to `problems` and returns nil.
    func validate(_ raw: RawEvent, nowMillis: Int64, problems: inout [EventProblemDraft]) -> ValidEvent? {
        let before = problems.count
        for name in raw.unknownFields {
            problems.append(EventProblemDraft(field: name, message: "is not a known event field"))
        }
        for field in raw.repeatedFields {
            problems.append(EventProblemDraft(field: field.rawValue, message: "appears more than once"))
        }

        let eventID = requiredString(raw.eventID, .eventID, Self.eventIDBytes, &problems)
        let userID = requiredString(raw.userID, .userID, Self.userIDBytes, &problems)

        var type: EventType? = nil
        if let name = requiredString(raw.type, .type, 1...Int.max, &problems) {
            type = eventType(named: name)
            if type == nil {
                problems.append(
                    EventProblemDraft(
                        field: "type",
                        message: typeAliases.isEmpty
                            ? "must be one of \(Self.canonicalList) or a GA4 alias (docs/ingest.md)"
                            : "must be one of \(Self.canonicalList), a GA4 alias (docs/ingest.md) or a name given in --event-type-map"))
            }
        }

        var timestamp: Int64? = nil
        if let text = requiredString(raw.timestamp, .timestamp, 1...Int.max, &problems) {
            if let format = timestampFormat {
                timestamp = format.parse(text)
                if timestamp == nil {
                    problems.append(EventProblemDraft(field: "timestamp", message: "must match the timestamp format \(format.pattern)"))
                }
            } else {
                timestamp = RFC3339.parseMillis(text)
                if timestamp == nil {
                    problems.append(
                        EventProblemDraft(
                            field: "timestamp",
                            message: "must be an RFC 3339 date-time with a time zone offset or Z (e.g. 2026-11-23T10:15:00Z)"))
                }
            }
            if let value = timestamp, value > nowMillis &+ maxFutureSkewMillis {
                problems.append(
                    EventProblemDraft(
                        field: "timestamp",
                        message: "must not be more than \(maxFutureSkewMillis / 1000) seconds in the future (policy ingest.max_future_skew_seconds)"))
                timestamp = nil
            }
        }

        let sessionID = optionalString(raw.sessionID, .sessionID, Self.sessionIDBytes, &problems)
        let itemID = optionalString(raw.itemID, .itemID, Self.itemIDBytes, &problems)
        let category = optionalString(raw.category, .category, Self.categoryBytes, &problems)
        let query = optionalString(raw.query, .query, Self.queryBytes, &problems)

        var price: Double? = nil
        switch raw.price {
        case nil, .null?: break
        case .number(let value, _)?:
            if value.isFinite && value >= 0 {
                price = value
            } else {
                problems.append(EventProblemDraft(field: "price", message: "must be a finite number greater than or equal to 0"))
            }
        case _?:
            problems.append(EventProblemDraft(field: "price", message: "must be a number"))
        }

        var quantity: Int? = nil
        switch raw.quantity {
        case nil, .null?: break
        case .number(_, let integer?)? where integer >= 1:
            quantity = integer
        case .number?:
            problems.append(EventProblemDraft(field: "quantity", message: "must be an integer greater than or equal to 1"))
        case _?:
            problems.append(EventProblemDraft(field: "quantity", message: "must be an integer"))
        }

        var rating: Int? = nil
        switch raw.rating {
        case nil, .null?: break
        case .number(_, let integer?)? where Self.ratings.contains(integer):
            rating = integer
            if let type, type != .review {
                problems.append(EventProblemDraft(field: "rating", message: "is allowed only on review events"))
            }
        case .number?:
            problems.append(EventProblemDraft(field: "rating", message: "must be an integer from 1 to 5"))
        case _?:
            problems.append(EventProblemDraft(field: "rating", message: "must be an integer"))
        }

        guard problems.count == before, let eventID, let userID, let type, let timestamp else { return nil }
        return ValidEvent(
            eventID: eventID, userID: userID, type: type, timestampMillis: timestamp, sessionID: sessionID,
            itemID: itemID, category: category, price: price, quantity: quantity, rating: rating, query: query)
    }

    func eventType(named name: String) -> EventType? {
        if let mapped = typeAliases[name] { return mapped }
        return EventTypeNames.resolve(name)
    }

    private static let canonicalList = EventType.allCases.map(\.rawValue).joined(separator: ", ")

    private func requiredString(
        _ value: RawValue?, _ field: EventField, _ bytes: ClosedRange<Int>, _ problems: inout [EventProblemDraft]
    ) -> String? {
        string(value, field, bytes, required: true, &problems)
    }

    private func optionalString(
        _ value: RawValue?, _ field: EventField, _ bytes: ClosedRange<Int>, _ problems: inout [EventProblemDraft]
    ) -> String? {
        string(value, field, bytes, required: false, &problems)
    }

    /// The string value of `field` if it is a string of an allowed length; nil otherwise, noting why
    /// (absence or JSON null is a problem only when `required`).
    private func string(
        _ value: RawValue?, _ field: EventField, _ bytes: ClosedRange<Int>, required: Bool,
        _ problems: inout [EventProblemDraft]
    ) -> String? {
        switch value {
        case nil, .null?:
            if required { problems.append(EventProblemDraft(field: field.rawValue, message: "is required")) }
            return nil
        case .string(let text)?:
            return checkLength(text, field, bytes, &problems)
        case _?:
            problems.append(EventProblemDraft(field: field.rawValue, message: "must be a string"))
            return nil
        }
    }

    private func checkLength(
        _ text: String, _ field: EventField, _ bytes: ClosedRange<Int>, _ problems: inout [EventProblemDraft]
    ) -> String? {
        guard bytes.contains(text.utf8.count) else {
            let message =
                bytes.upperBound == Int.max
                ? "must not be empty" : "must be between \(bytes.lowerBound) and \(bytes.upperBound) bytes of UTF-8"
            problems.append(EventProblemDraft(field: field.rawValue, message: message))
            return nil
        }
        return text
    }
}
