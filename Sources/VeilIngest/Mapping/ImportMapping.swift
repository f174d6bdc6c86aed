import VeilCore

/// How the records of a foreign file become events: the file's layout (format, delimiter, quoting, the
/// names of a header-less file's columns), an expression per event field, constants, a value map for
/// event types (with `skip`), and how timestamps are read.
///
/// One mapping is built from a mapping file (`MappingFile`) and/or command-line flags through the
/// setters below, which check every rule in one place and throw `MappingRuleError`; the caller names
/// where the setting came from (`fields.price` and its line, or `--map`).
public struct ImportMapping: Sendable {
    /// What a value of the type column becomes.
    public enum TypeTarget: Sendable, Hashable {
        case type(EventType)
        /// The record is dropped (counted by value in the report, never stored).
        case skip
    }

    /// nil: by file extension.
    public var format: ImportOptions.Format?
    /// nil: detected from the first line.
    public var delimiter: CSVDelimiter?
    public var quote: CSVQuote = .double
    /// The names of the columns of a file without a header row, in order; nil when the file's first
    /// non-blank line is its header.
    public private(set) var columns: [String]?
    /// Event field → expression over the columns. A field not listed maps to a column of its own name,
    /// if the file has one.
    public private(set) var fields: [EventField: MappingExpression] = [:]
    /// Free-form property key → expression over the columns (kept only where the policy lists the key,
    /// as an NDJSON event's `properties`).
    public private(set) var properties: [String: MappingExpression] = [:]
    /// Event field → the value of records that leave it empty (every record, when no column gives it).
    private(set) var constants: [EventField: RawValue] = [:]
    /// Value of the type field → what it stands for, consulted before the canonical names and GA4 aliases.
    public private(set) var types: [String: TypeTarget] = [:]
    public var timestamp = TimestampReading.utcRFC3339

    /// Where each setting was made, by setting (`fields.price`): a flag or a file's key and line.
    public private(set) var origins: [String: String] = [:]

    public init() {}

    /// The fields a constant may give: giving every record one user, one time or one event ID would
    /// make the file a single user's, a single instant's or a single event.
    public static let constantFields: [EventField] = [.type, .category, .itemID, .price, .quantity]

    /// The most columns a file may have (a header row may name no more).
    public static let maxColumns = 1_024
    /// The most entries of the type value map.
    public static let maxTypeValues = 10_000

    /// The most free-form properties a mapping may compute.
    public static let maxProperties = 64

    /// Computes the free-form property `key` (letters, digits, `_`, `.` and `-`; 1 to 64 bytes) from
    /// `expression`.
    public mutating func mapProperty(_ key: String, to expression: String, origin: String) throws(MappingRuleError) {
        guard (1...64).contains(key.utf8.count), key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }) else {
            throw MappingRuleError("a property key must be 1 to 64 letters, digits, _, . or -")
        }
        guard properties.count < Self.maxProperties || properties[key] != nil else {
            throw MappingRuleError("maps more than \(Self.maxProperties) properties")
        }
        properties[key] = try MappingExpression(expression)
        origins["properties.\(key)"] = origin
    }

    /// Maps `field` (an event field name, or `properties.KEY`) to `expression`.
    public mutating func map(_ field: String, to expression: String, origin: String) throws(MappingRuleError) {
        if field.hasPrefix("properties.") {
            return try mapProperty(String(field.dropFirst("properties.".count)), to: expression, origin: origin)
        }
        let target = try Self.eventField(field)
        let parsed = try MappingExpression(expression)
        fields[target] = parsed
        origins["fields.\(target.rawValue)"] = origin
    }

    /// Gives `field` the constant `value` (checked as that field's values are: an event type, a number…).
    public mutating func setConstant(_ field: String, _ value: String, origin: String) throws(MappingRuleError) {
        let target = try Self.eventField(field)
        guard Self.constantFields.contains(target) else {
            throw MappingRuleError(
                "\(target.rawValue) cannot be a constant; constants may give \(Self.constantFields.map(\.rawValue).joined(separator: ", "))")
        }
        switch target {
        case .type:
            guard let type = EventTypeNames.resolve(value) else {
                throw MappingRuleError("is not an event type (\(EventTypeNames.canonicalList)) or a GA4 alias")
            }
            constants[.type] = .string(type.rawValue)
        case .price, .quantity:
            guard let number = DecimalText.value(value) else { throw MappingRuleError("must be a number") }
            constants[target] = EventJSONParser.number(number)
        default:
            guard !value.isEmpty, value.utf8.count <= 256 else { throw MappingRuleError("must be 1 to 256 bytes of text") }
            constants[target] = .string(value)
        }
        origins["constants.\(target.rawValue)"] = origin
    }

    /// Maps the type value `value` to `target`: an event type, a GA4 alias, or `skip`.
    public mutating func mapType(_ value: String, to target: String, origin: String) throws(MappingRuleError) {
        guard !value.isEmpty, value.utf8.count <= 256 else {
            throw MappingRuleError("a value of the type column must be 1 to 256 bytes of text")
        }
        guard types.count < Self.maxTypeValues || types[value] != nil else {
            throw MappingRuleError("maps more than \(Self.maxTypeValues) values")
        }
        if target == "skip" {
            types[value] = .skip
        } else if let type = EventTypeNames.resolve(target) {
            types[value] = .type(type)
        } else {
            throw MappingRuleError("must be skip, an event type (\(EventTypeNames.canonicalList)) or a GA4 alias")
        }
        origins["types"] = origin
    }

    /// Names the columns of a header-less file, in order.
    public mutating func setColumns(_ names: [String], origin: String) throws(MappingRuleError) {
        guard !names.isEmpty else { throw MappingRuleError("must name at least one column") }
        guard names.count <= Self.maxColumns else { throw MappingRuleError("names more than \(Self.maxColumns) columns") }
        var seen = Set<String>()
        for name in names {
            guard !name.isEmpty, name.utf8.count <= 256 else { throw MappingRuleError("a column name must be 1 to 256 bytes") }
            guard seen.insert(name).inserted else { throw MappingRuleError("names the column \(name) twice") }
        }
        columns = names
        origins["columns"] = origin
    }

    /// Sets how timestamps are read: `layout` (a name of `TimestampReading.layoutNames` or a pattern;
    /// nil keeps the current one) in `zone` (nil keeps the current one).
    public mutating func setTimestamp(layout: String?, zone: String?, origin: String) throws(MappingRuleError) {
        let newLayout = try layout.map(TimestampReading.layout(named:)) ?? timestamp.layout
        let newZone = try zone.map(ImportTimeZone.init) ?? timestamp.zone
        timestamp = try TimestampReading(layout: newLayout, zone: newZone)
        origins["timestamp"] = origin
    }

    /// Checks the rules between settings once all are made; throws naming the settings concerned.
    public func checkConsistency() throws(MappingRuleError) {
        if format == .ndjson {
            if !fields.isEmpty { throw MappingRuleError("fields map CSV columns; an NDJSON file's events name their fields (format: ndjson)") }
            if !properties.isEmpty {
                throw MappingRuleError("properties map CSV columns; an NDJSON file's events carry their own properties (format: ndjson)")
            }
            if columns != nil { throw MappingRuleError("columns name the columns of a CSV file without a header; this mapping reads NDJSON") }
        }
        if let columns {
            let known = Set(columns)
            for (field, expression) in fields.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                if let missing = expression.columns.first(where: { !known.contains($0) }) {
                    throw MappingRuleError(
                        "fields.\(field.rawValue) reads the column \(missing), which columns does not name (\(origins["fields.\(field.rawValue)"] ?? "--map"))")
                }
            }
            for (key, expression) in properties.sorted(by: { $0.key < $1.key }) {
                if let missing = expression.columns.first(where: { !known.contains($0) }) {
                    throw MappingRuleError(
                        "properties.\(key) reads the column \(missing), which columns does not name (\(origins["properties.\(key)"] ?? "--map"))")
                }
            }
            let userID = fields[.userID].map { !$0.columns.isEmpty } ?? known.contains(EventField.userID.rawValue)
            guard userID else {
                throw MappingRuleError("no column gives user_id: map one (fields: user_id: COLUMN, or --map user_id=COLUMN)")
            }
        }
    }

    static func eventField(_ name: String) throws(MappingRuleError) -> EventField {
        guard let field = EventField(rawValue: name) else {
            throw MappingRuleError("\(name) is not an event field; the fields are \(EventField.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return field
    }
}

extension TimestampReading {
    /// RFC 3339 with an offset or `Z`, no zone: what an import reads when told nothing else.
    public static let utcRFC3339 = try! TimestampReading()
}

/// How a CSV cell may be quoted.
public enum CSVQuote: String, Sendable, CaseIterable, Codable {
    /// `"a, b"` with `""` for a quote inside (RFC 4180).
    case double
    /// `'a, b'` with `''` for a quote inside.
    case single
    /// No quoting: a quote is an ordinary character.
    case none

    var byte: UInt8? {
        switch self {
        case .double: UInt8(ascii: "\"")
        case .single: UInt8(ascii: "'")
        case .none: nil
        }
    }
}
