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
    /// The earliest timestamp accepted, in Unix ms (policy `ingest.earliest_event_date`).
    var earliestMillis: Int64
    /// The largest price and quantity accepted (policy `ingest.max_price`, `ingest.max_quantity`).
    var maxPrice: Double
    var maxQuantity: Int
    /// How timestamps are read (an import's mapping may say; HTTP: RFC 3339 with an offset).
    var timestamps = TimestampReading.utcRFC3339
    /// Whether `event_id` must be given (HTTP); an import derives a missing one from the content.
    var requiresEventID = true
    /// The free-form properties kept, by key (policy `properties`); any other is dropped and counted.
    var propertyRules: [String: PropertyRule] = [:]

    /// Validates one event against the clock reading `nowMillis`. Returns the event, or appends every
    /// problem to `problems` and returns nil.
    func validate(_ raw: RawEvent, nowMillis: Int64, problems: inout [EventProblemDraft]) -> ValidEvent? {
        let before = problems.count
        for position in raw.unknownFieldPositions {
            problems.append(EventProblemDraft(field: "event", message: "field #\(position) is not a known event field; the fields are \(Self.fieldList)"))
        }
        for field in raw.repeatedFields {
            problems.append(EventProblemDraft(field: field.rawValue, message: "appears more than once"))
        }

        let eventID = string(raw.eventID, .eventID, Self.eventIDBytes, required: requiresEventID, &problems)
        let userID = requiredString(raw.userID, .userID, Self.userIDBytes, &problems)

        var type: EventType? = nil
        if let name = requiredString(raw.type, .type, 1...Int.max, &problems) {
            type = EventTypeNames.resolve(name)
            if type == nil { problems.append(EventProblemDraft(field: "type", message: Self.unknownTypeRule)) }
        }

        var timestamp: Int64? = nil
        switch raw.timestamp {
        case nil, .null?:
            problems.append(EventProblemDraft(field: "timestamp", message: "is required"))
        case .string(let text)? where text.isEmpty:
            problems.append(EventProblemDraft(field: "timestamp", message: "must not be empty"))
        case .number? where !timestamps.acceptsNumbers, .bool?, .object?, .array?:
            problems.append(EventProblemDraft(field: "timestamp", message: "must be a string"))
        case let value?:
            timestamp = timestamps.millis(value)
            if timestamp == nil { problems.append(EventProblemDraft(field: "timestamp", message: timestamps.rule)) }
            if let value = timestamp, value < earliestMillis {
                problems.append(
                    EventProblemDraft(
                        field: "timestamp",
                        message: "must not be before \(CivilDate.label(millis: earliestMillis)) (policy ingest.earliest_event_date)"))
                timestamp = nil
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
            if value.isFinite && value >= 0 && value <= maxPrice {
                price = value
            } else {
                problems.append(
                    EventProblemDraft(
                        field: "price",
                        message: "must be a number from 0 to \(Self.format(maxPrice)) (policy ingest.max_price)"))
            }
        case _?:
            problems.append(EventProblemDraft(field: "price", message: "must be a number"))
        }

        var quantity: Int? = nil
        switch raw.quantity {
        case nil, .null?: break
        case .number(_, let integer?)? where integer >= 1 && integer <= maxQuantity:
            quantity = integer
        case .number?:
            problems.append(
                EventProblemDraft(field: "quantity", message: "must be an integer from 1 to \(maxQuantity) (policy ingest.max_quantity)"))
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

        var properties: [String: Double] = [:]
        var droppedProperties = 0
        if raw.repeatedProperties { problems.append(EventProblemDraft(field: Self.propertiesField, message: "appears more than once")) }
        switch raw.properties {
        case nil, .null?: break
        case .object?: (properties, droppedProperties) = keep(raw.propertyMembers)
        case _?: problems.append(EventProblemDraft(field: Self.propertiesField, message: "must be a JSON object of numbers"))
        }

        guard problems.count == before, eventID != nil || !requiresEventID, let userID, let type, let timestamp else { return nil }
        return ValidEvent(
            eventID: eventID, userID: userID, type: type, timestampMillis: timestamp, sessionID: sessionID,
            itemID: itemID, category: category, price: price, quantity: quantity, rating: rating, query: query,
            properties: properties, droppedProperties: droppedProperties)
    }

    /// The name of the free-form properties member, in problems.
    static let propertiesField = "properties"

    /// The members the policy lists with a number inside their bounds, and how many others were
    /// dropped (every occurrence of a key given twice is). Never an error: an unlisted key may be
    /// anything, and is never shown.
    func keep(_ members: [(key: String, value: RawValue)]) -> (kept: [String: Double], dropped: Int) {
        var occurrences: [String: Int] = [:]
        for member in members { occurrences[member.key, default: 0] += 1 }
        var kept: [String: Double] = [:]
        var dropped = 0
        for member in members {
            if occurrences[member.key] == 1, let rule = propertyRules[member.key], case .number(let value, _) = member.value,
                rule.admits(value)
            {
                kept[member.key] = value
            } else {
                dropped += 1
            }
        }
        return (kept, dropped)
    }

    /// A policy number in a message: whole values without a trailing `.0`.
    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// The rule a type name that is neither canonical nor a GA4 alias breaks. A problem with this rule
    /// is where reports collect the distinct unknown values (`ProblemTally`).
    static let unknownTypeRule = "must be one of \(EventTypeNames.canonicalList) or a GA4 alias (docs/ingest.md)"
    private static let fieldList = EventField.allCases.map(\.rawValue).joined(separator: ", ")

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
