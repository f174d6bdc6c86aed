import Foundation
import VeilCore

/// The event rules (docs/ingest.md), applied in one place to events from HTTP, NDJSON files and CSV
/// files alike. Every broken rule becomes one `EventProblemDraft` naming the field and the rule —
/// never the value.
struct EventValidator: Sendable {
    /// Byte-length limits, inclusive.
    static let eventIDBytes = 1...128
    static let userIDBytes = 1...256
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
    /// A custom timestamp format (import `--timestamp-format`); nil means RFC 3339.
    var timestampFormat: TimestampFormat?
    /// Extra type names (import `--event-type-map`), consulted before the canonical names and GA4 aliases.
    var typeAliases: [String: EventType] = [:]
    /// Whether `event_id` must be given (HTTP); an import derives a missing one from the content.
    var requiresEventID = true

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

        guard problems.count == before, eventID != nil || !requiresEventID, let userID, let type, let timestamp else { return nil }
        return ValidEvent(
            eventID: eventID, userID: userID, type: type, timestampMillis: timestamp, sessionID: sessionID,
            itemID: itemID, category: category, price: price, quantity: quantity, rating: rating, query: query)
    }

    /// A policy number in a message: whole values without a trailing `.0`.
    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    func eventType(named name: String) -> EventType? {
        if let mapped = typeAliases[name] { return mapped }
        return EventTypeNames.resolve(name)
    }

    private static let canonicalList = EventType.allCases.map(\.rawValue).joined(separator: ", ")
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

/// Event type names: the canonical names, and Google Analytics 4 recommended-event names accepted as
/// aliases. This table is the one documented in docs/ingest.md.
public enum EventTypeNames {
    /// GA4 name → Veil type. Canonical names that GA4 shares (`search`, `add_to_cart`,
    /// `remove_from_cart`, `purchase`) need no alias.
    public static let ga4Aliases: [(ga4: String, type: EventType)] = [
        ("view_item", .view),
        ("view_item_list", .view),
        ("view_search_results", .search),
        ("select_item", .click),
        ("select_promotion", .click),
        ("begin_checkout", .checkout),
        ("refund", .return),
    ]

    private static let lookup: [String: EventType] = {
        var table = [String: EventType]()
        for type in EventType.allCases { table[type.rawValue] = type }
        for (name, type) in ga4Aliases { table[name] = type }
        return table
    }()

    /// The type a canonical name or GA4 alias stands for (exact, case-sensitive match).
    public static func resolve(_ name: String) -> EventType? { lookup[name] }
}

/// A fixed timestamp layout for imports, given in strftime (`%Y-%m-%d %H:%M:%S`) or Unicode/ICU
/// (`yyyy-MM-dd HH:mm:ss`) notation. Values are UTC; fields left out are zero, so a date-only value
/// is midnight UTC.
///
/// Supported: `%Y`/`yyyy` (4-digit year), `%y`/`yy` (2-digit year, 2000–2099… as 20yy), `%m`/`MM`/`M`,
/// `%d`/`dd`/`d`, `%H`/`HH`/`H`, `%M`/`mm`/`m`, `%S`/`ss`/`s`, `SSS` (milliseconds), `%%`, and literal
/// characters (ICU text in single quotes).
public struct TimestampFormat: Sendable, Hashable {
    public let pattern: String
    private let tokens: [Token]

    private enum Token: Hashable {
        case year4, year2, month, day, hour, minute, second, millis
        case literal(UInt8)
    }

    /// Compiles `pattern`; throws `VeilError(.invalidInput)` for a directive it does not support.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        var tokens: [Token] = []
        let chars = Array(pattern.utf8)
        var index = 0
        func unsupported(_ what: String) -> VeilError {
            VeilError(
                .invalidInput, field: "--timestamp-format",
                "\(what) is not supported; use %Y %y %m %d %H %M %S (or yyyy yy MM dd HH mm ss SSS) and literal characters")
        }
        while index < chars.count {
            let char = chars[index]
            if char == UInt8(ascii: "%") {
                guard index + 1 < chars.count else { throw unsupported("a trailing %") }
                let directive = chars[index + 1]
                switch directive {
                case UInt8(ascii: "Y"): tokens.append(.year4)
                case UInt8(ascii: "y"): tokens.append(.year2)
                case UInt8(ascii: "m"): tokens.append(.month)
                case UInt8(ascii: "d"): tokens.append(.day)
                case UInt8(ascii: "H"): tokens.append(.hour)
                case UInt8(ascii: "M"): tokens.append(.minute)
                case UInt8(ascii: "S"): tokens.append(.second)
                case UInt8(ascii: "%"): tokens.append(.literal(UInt8(ascii: "%")))
                default: throw unsupported("%" + String(UnicodeScalar(directive)))
                }
                index += 2
                continue
            }
            if char == UInt8(ascii: "'") {
                index += 1
                while index < chars.count, chars[index] != UInt8(ascii: "'") {
                    tokens.append(.literal(chars[index]))
                    index += 1
                }
                index += 1
                continue
            }
            if (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(char) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(char) {
                var run = 1
                while index + run < chars.count, chars[index + run] == char { run += 1 }
                let letter = Character(UnicodeScalar(char))
                switch (letter, run) {
                case ("y", 4): tokens.append(.year4)
                case ("y", 2): tokens.append(.year2)
                case ("M", 1), ("M", 2): tokens.append(.month)
                case ("d", 1), ("d", 2): tokens.append(.day)
                case ("H", 1), ("H", 2): tokens.append(.hour)
                case ("m", 1), ("m", 2): tokens.append(.minute)
                case ("s", 1), ("s", 2): tokens.append(.second)
                case ("S", 3): tokens.append(.millis)
                default: throw unsupported(String(repeating: letter, count: run))
                }
                index += run
                continue
            }
            tokens.append(.literal(char))
            index += 1
        }
        guard tokens.contains(.year4) || tokens.contains(.year2), tokens.contains(.month), tokens.contains(.day) else {
            throw VeilError(.invalidInput, field: "--timestamp-format", "must contain a year, a month and a day")
        }
        self.tokens = tokens
    }

    /// Unix milliseconds (UTC) of `text`, or nil when it does not match the format exactly.
    public func parse(_ text: String) -> Int64? {
        let s = Array(text.utf8)
        var index = 0
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0
        func number(maxDigits: Int, exactly: Bool) -> Int? {
            var value = 0
            var count = 0
            while count < maxDigits, index < s.count, s[index] &- UInt8(ascii: "0") < 10 {
                value = value * 10 + Int(s[index] - UInt8(ascii: "0"))
                index += 1
                count += 1
            }
            if count == 0 || (exactly && count != maxDigits) { return nil }
            return value
        }
        for token in tokens {
            switch token {
            case .year4: guard let v = number(maxDigits: 4, exactly: true) else { return nil }; year = v
            case .year2: guard let v = number(maxDigits: 2, exactly: true) else { return nil }; year = 2000 + v
            case .month: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; month = v
            case .day: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; day = v
            case .hour: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; hour = v
            case .minute: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; minute = v
            case .second: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; second = v
            case .millis: guard let v = number(maxDigits: 3, exactly: true) else { return nil }; millis = v
            case .literal(let byte):
                guard index < s.count, s[index] == byte else { return nil }
                index += 1
            }
        }
        guard index == s.count, hour <= 23, minute <= 59, second <= 60,
            let days = CivilDate.checkedDaysFromCivil(year: year, month: month, day: day)
        else { return nil }
        return (Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)) * 1000 + Int64(millis)
    }
}
