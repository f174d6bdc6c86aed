/// A JSON document (RFC 8259) parsed under limits, for every JSON text Veil reads other than events
/// (request bodies, audit lines, checkpoints): objects keep their keys in document order.
///
/// Contract: `parse` never recurses deeper than `limits.maxDepth` levels and never reads past
/// `limits.maxBytes`, whatever the input; it accepts exactly RFC 8259 JSON (one value, optional
/// surrounding whitespace, valid UTF-8, no key twice in one object) and otherwise throws a
/// `JSONSyntaxError` that names the rule and the byte offset — never any of the text.
public indirect enum JSONNode: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number as written (already checked against the JSON number grammar).
    case number(String)
    case string(String)
    case array([JSONNode])
    /// Members in document order; keys are unique.
    case object([JSONMember])

    /// What kind of value this is, for messages ("an object", "a string", …).
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Sendable, Hashable {
    public let key: String
    public let value: JSONNode

    public init(key: String, value: JSONNode) {
        self.key = key
        self.value = value
    }
}

/// The bounds a JSON text is parsed under.
public struct JSONLimits: Sendable, Hashable {
    /// Arrays and objects nested deeper than this are refused (the top-level value is depth 1).
    public var maxDepth: Int
    /// Texts longer than this many bytes are refused.
    public var maxBytes: Int

    public init(maxDepth: Int = JSONLimits.defaultMaxDepth, maxBytes: Int) {
        self.maxDepth = maxDepth
        self.maxBytes = maxBytes
    }

    /// 32 levels: more than any document Veil reads or writes needs (request bodies nest 3 deep, audit
    /// records 5), and few enough that no reader of the parsed value can exhaust a thread's stack. The
    /// event parser (`EventJSONParser`) applies the same bound.
    public static let defaultMaxDepth = 32
}

/// Why a text is not acceptable JSON: the rule and where (a byte offset), never the text itself.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public let rule: String
    /// 0-based byte offset where the rule was broken.
    public let offset: Int

    public init(rule: String, offset: Int) {
        self.rule = rule
        self.offset = offset
    }

    public var description: String { "\(rule) (byte \(offset))" }
}

extension JSONNode {
    /// Parses `bytes` as one JSON value under `limits`.
    public static func parse(_ bytes: some Collection<UInt8>, limits: JSONLimits) throws(JSONSyntaxError) -> JSONNode {
        guard bytes.count <= limits.maxBytes else {
            throw JSONSyntaxError(rule: "the text is longer than \(limits.maxBytes) bytes", offset: limits.maxBytes)
        }
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            var parser = StrictJSONParser(bytes: buffer, maxDepth: limits.maxDepth)
            return try parser.document()
        }
    }

    /// Parses UTF-8 `text` as one JSON value under `limits`.
    public static func parse(_ text: String, limits: JSONLimits) throws(JSONSyntaxError) -> JSONNode {
        try parse(Array(text.utf8), limits: limits)
    }

    /// The members of an object, nil for any other value.
    public var members: [JSONMember]? {
        if case .object(let members) = self { members } else { nil }
    }

    /// The value of `key` in an object, nil when absent or not an object.
    public subscript(key: String) -> JSONNode? {
        members?.first { $0.key == key }?.value
    }

    /// The text of a string value.
    public var stringValue: String? {
        if case .string(let text) = self { text } else { nil }
    }
}

/// A recursive-descent parser whose recursion is bounded by `maxDepth`.
private struct StrictJSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func fail(_ rule: String) -> JSONSyntaxError { JSONSyntaxError(rule: rule, offset: position) }

    mutating func document() throws(JSONSyntaxError) -> JSONNode {
        skipWhitespace()
        let value = try self.value()
        skipWhitespace()
        guard position == bytes.count else { throw fail("unexpected characters after the value") }
        return value
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func value() throws(JSONSyntaxError) -> JSONNode {
        guard position < bytes.count else { throw fail("expected a value, found the end of the text") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try container(object: true)
        case UInt8(ascii: "["): return try container(object: false)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("expected a value")
        }
    }

    mutating func literal(_ word: StaticString, _ node: JSONNode) throws(JSONSyntaxError) -> JSONNode {
        let length = word.utf8CodeUnitCount
        guard bytes.count - position >= length else { throw fail("expected a value") }
        for offset in 0..<length where bytes[position + offset] != word.utf8Start[offset] { throw fail("expected a value") }
        position += length
        return node
    }

    mutating func container(object: Bool) throws(JSONSyntaxError) -> JSONNode {
        depth += 1
        guard depth <= maxDepth else { throw fail("arrays and objects nest deeper than \(maxDepth) levels") }
        defer { depth -= 1 }
        position += 1
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        var elements: [JSONNode] = []
        var members: [JSONMember] = []
        var keys = Set<String>()
        skipWhitespace()
        if position < bytes.count, bytes[position] == close {
            position += 1
            return object ? .object([]) : .array([])
        }
        while true {
            skipWhitespace()
            if object {
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a quoted key") }
                let keyStart = position
                let key = try string()
                guard keys.insert(key).inserted else {
                    throw JSONSyntaxError(rule: "a key appears twice in one object", offset: keyStart)
                }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                position += 1
                skipWhitespace()
                members.append(JSONMember(key: key, value: try value()))
            } else {
                elements.append(try value())
            }
            skipWhitespace()
            guard position < bytes.count else { throw fail(object ? "unterminated object" : "unterminated array") }
            let next = bytes[position]
            position += 1
            if next == UInt8(ascii: ",") { continue }
            if next == close { return object ? .object(members) : .array(elements) }
            position -= 1
            throw fail(object ? "expected ',' or '}' after a value" : "expected ',' or ']' after a value")
        }
    }

    /// A string starting at the opening quote, unescaped and checked as UTF-8 (`JSONStringBody`).
    mutating func string() throws(JSONSyntaxError) -> String {
        position += 1
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                let stop = position
                position += 1
                return try JSONStringBody.decode(bytes, from: start, to: stop)
            case UInt8(ascii: "\\"):
                position += 2
            case 0..<0x20:
                throw fail("control character in a string")
            default:
                position += 1
            }
        }
        throw fail("unterminated string")
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as written.
    mutating func number() throws(JSONSyntaxError) -> String {
        let start = position
        func digits(_ parser: inout StrictJSONParser) -> Int {
            let from = parser.position
            while parser.position < parser.bytes.count, parser.bytes[parser.position] &- UInt8(ascii: "0") < 10 { parser.position += 1 }
            return parser.position - from
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        let integerDigits = digits(&self)
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else { throw fail("malformed number") }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits(&self) > 0 else { throw fail("malformed number") }
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { throw fail("malformed number") }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }
}
