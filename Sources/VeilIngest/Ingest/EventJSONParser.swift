import Foundation
import VeilCore

/// A hand-written parser for event objects (RFC 8259 JSON), reading bytes in place.
///
/// It knows the event fields, so it fills a `RawEvent` directly instead of building a generic JSON
/// tree, and it never copies a key or value it does not need. Syntax errors are reported by rule and
/// byte offset, never with the offending text.
struct EventJSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int
    private let end: Int

    private struct SyntaxError: Error {
        let message: String
    }

    private init(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) {
        self.bytes = bytes
        position = start
        self.end = end
    }

    // MARK: Framing

    /// Parses newline-delimited JSON: one object per non-blank line. `body` receives the 0-based
    /// number of the non-blank line among non-blank lines, its 1-based line number, and the record.
    /// Stops early when `body` returns false.
    static func forEachNDJSONRecord(
        in bytes: UnsafeBufferPointer<UInt8>, firstLineNumber: Int = 1,
        _ body: (_ ordinal: Int, _ lineNumber: Int, ParsedRecord) throws -> Bool
    ) rethrows {
        var lineStart = 0
        var lineNumber = firstLineNumber
        var ordinal = 0
        let count = bytes.count
        guard let base = bytes.baseAddress else { return }
        while lineStart < count {
            var lineEnd = count
            if let found = memchr(base + lineStart, Int32(UInt8(ascii: "\n")), count - lineStart) {
                lineEnd = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            }
            if !isBlank(bytes, lineStart, lineEnd) {
                let record = parseObjectRecord(bytes, from: lineStart, to: lineEnd)
                if try !body(ordinal, lineNumber, record) { return }
                ordinal += 1
            }
            lineStart = lineEnd + 1
            lineNumber += 1
        }
    }

    /// Parses a JSON array of objects. `body` receives each element's 0-based index and the record.
    /// A syntax error outside an element, or one that makes the rest unreadable, ends the array with
    /// one `.malformed` record. Stops early when `body` returns false.
    static func forEachArrayElement(
        in bytes: UnsafeBufferPointer<UInt8>, _ body: (_ index: Int, ParsedRecord) throws -> Bool
    ) rethrows {
        var parser = EventJSONParser(bytes, from: 0, to: bytes.count)
        var index = 0
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "[") else {
            _ = try body(0, .malformed(EventProblemDraft(field: "body", message: "must be a JSON array of event objects")))
            return
        }
        parser.position += 1
        parser.skipWhitespace()
        if parser.peek() == UInt8(ascii: "]") {
            parser.position += 1
            if let trailing = parser.trailingGarbage() { _ = try body(0, .malformed(trailing)) }
            return
        }
        while true {
            parser.skipWhitespace()
            let record: ParsedRecord
            do {
                if parser.peek() == UInt8(ascii: "{") {
                    record = .event(try parser.parseObject())
                } else {
                    _ = try parser.skipValue(depth: 2)
                    record = .malformed(EventProblemDraft(field: "event", message: "must be a JSON object"))
                }
            } catch let error as SyntaxError {
                _ = try body(index, .malformed(Self.draft(error, at: parser.position)))
                return
            } catch {
                return
            }
            if try !body(index, record) { return }
            index += 1
            parser.skipWhitespace()
            switch parser.peek() {
            case UInt8(ascii: ","):
                parser.position += 1
            case UInt8(ascii: "]"):
                parser.position += 1
                if let trailing = parser.trailingGarbage() { _ = try body(index, .malformed(trailing)) }
                return
            default:
                _ = try body(
                    index,
                    .malformed(
                        EventProblemDraft(
                            field: "body",
                            message: "is not valid JSON: expected ',' or ']' after an array element (byte \(parser.position))")))
                return
            }
        }
    }

    /// Parses exactly one object spanning `start..<end` (surrounding whitespace allowed).
    static func parseObjectRecord(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> ParsedRecord {
        var parser = EventJSONParser(bytes, from: start, to: end)
        do {
            parser.skipWhitespace()
            guard parser.peek() == UInt8(ascii: "{") else {
                guard parser.position < end else { throw SyntaxError(message: "expected a JSON object") }
                _ = try parser.skipValue(depth: 1)  // a syntax error (nesting too) is reported as such
                return .malformed(EventProblemDraft(field: "event", message: "must be a JSON object"))
            }
            let event = try parser.parseObject()
            parser.skipWhitespace()
            guard parser.position >= end else {
                throw SyntaxError(message: "unexpected characters after the object")
            }
            return .event(event)
        } catch let error as SyntaxError {
            return .malformed(draft(error, at: parser.position - start))
        } catch {
            return .malformed(EventProblemDraft(field: "event", message: "is not valid JSON"))
        }
    }

    private static func draft(_ error: SyntaxError, at offset: Int) -> EventProblemDraft {
        EventProblemDraft(field: "event", message: "is not valid JSON: \(error.message) (byte \(offset))")
    }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var index = start
        while index < end {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D: index += 1
            default: return false
            }
        }
        return true
    }

    private mutating func trailingGarbage() -> EventProblemDraft? {
        skipWhitespace()
        guard position < end else { return nil }
        return EventProblemDraft(field: "body", message: "is not valid JSON: unexpected characters after the array (byte \(position))")
    }

    // MARK: Objects

    private func peek() -> UInt8? { position < end ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < end {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws {
        guard position < end, bytes[position] == byte else { throw SyntaxError(message: "expected \(what())") }
        position += 1
    }

    /// Parses `{ "key": value, ... }` at `position` into a `RawEvent`.
    private mutating func parseObject() throws -> RawEvent {
        var event = RawEvent()
        try expect(UInt8(ascii: "{"), "'{'")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return event
        }
        var member = 0
        while true {
            member += 1
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw SyntaxError(message: "expected a quoted key") }
            let (keyStart, keyEnd, keyKind) = try scanString()
            let field: EventField?
            var isProperties = false
            if keyKind == .escaped {
                let key = try decodeString(keyStart, keyEnd, keyKind)
                field = EventField(rawValue: key)
                isProperties = key == Self.propertiesKey
            } else {
                field = Self.field(bytes, keyStart, keyEnd)
                // An unknown key is checked (valid UTF-8) but never kept: it may be personal data.
                if field == nil { isProperties = try decodeString(keyStart, keyEnd, keyKind) == Self.propertiesKey }
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            if isProperties {
                if event.properties != nil { event.repeatedProperties = true }
                if peek() == UInt8(ascii: "{") {
                    event.propertyMembers = try parseProperties()
                    event.properties = .object
                } else {
                    event.properties = try parseValue()
                }
            } else if let field {
                let value = try parseValue()
                event.set(field, value)
            } else {
                _ = try parseValue()
                event.unknownFieldPositions.append(member)
            }
            skipWhitespace()
            guard position < end else { throw SyntaxError(message: "unterminated object") }
            let next = bytes[position]
            position += 1
            if next == UInt8(ascii: ",") { continue }
            if next == UInt8(ascii: "}") { return event }
            throw SyntaxError(message: "expected ',' or '}' after a value")
        }
    }

    /// The member holding an event's free-form properties (an object of numbers).
    static let propertiesKey = "properties"

    /// Parses the `properties` object at `position`: its members with their keys (checked against the
    /// policy later, never echoed) and scalar values; a nested value is skipped and kept as its kind.
    private mutating func parseProperties() throws -> [(key: String, value: RawValue)] {
        try expect(UInt8(ascii: "{"), "'{'")
        var members: [(key: String, value: RawValue)] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return members
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw SyntaxError(message: "expected a quoted key") }
            let (start, stop, kind) = try scanString()
            let key = try decodeString(start, stop, kind)
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            let value: RawValue
            if peek() == UInt8(ascii: "{") || peek() == UInt8(ascii: "[") {
                value = try skipValue(depth: 3)
            } else {
                value = try parseValue()
            }
            members.append((key, value))
            skipWhitespace()
            guard position < end else { throw SyntaxError(message: "unterminated object") }
            let next = bytes[position]
            position += 1
            if next == UInt8(ascii: ",") { continue }
            if next == UInt8(ascii: "}") { return members }
            throw SyntaxError(message: "expected ',' or '}' after a value")
        }
    }

    private static let fieldTable: [[(EventField, [UInt8])]] = {
        var table = [[(EventField, [UInt8])]](repeating: [], count: 16)
        for field in EventField.allCases {
            let name = Array(field.rawValue.utf8)
            table[name.count].append((field, name))
        }
        return table
    }()

    private static func field(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> EventField? {
        let length = end - start
        guard length < fieldTable.count else { return nil }
        for (field, name) in fieldTable[length] {
            let equal = name.withUnsafeBufferPointer { memcmp($0.baseAddress!, bytes.baseAddress! + start, length) == 0 }
            if equal { return field }
        }
        return nil
    }

    // MARK: Values

    private mutating func parseValue() throws -> RawValue {
        guard position < end else { throw SyntaxError(message: "expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "\""):
            let (start, stop, kind) = try scanString()
            return .string(try decodeString(start, stop, kind))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            return try skipValue(depth: 2)
        default:
            throw SyntaxError(message: "expected a value")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let length = word.utf8CodeUnitCount
        guard end - position >= length, memcmp(bytes.baseAddress! + position, word.utf8Start, length) == 0 else {
            throw SyntaxError(message: "expected a value")
        }
        position += length
    }

    /// Skips any value (used for nested objects and arrays, which no event field accepts). `depth` is
    /// the nesting level of the value (the event object is level 1); past `JSONLimits.defaultMaxDepth`
    /// the text is refused, so no input can exhaust the stack.
    private mutating func skipValue(depth: Int) throws -> RawValue {
        guard position < end else { throw SyntaxError(message: "expected a value") }
        if bytes[position] == UInt8(ascii: "{") || bytes[position] == UInt8(ascii: "[") {
            guard depth <= JSONLimits.defaultMaxDepth else {
                throw SyntaxError(message: "arrays and objects nest deeper than \(JSONLimits.defaultMaxDepth) levels")
            }
        }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                position += 1
                return .object
            }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw SyntaxError(message: "expected a quoted key") }
                _ = try scanString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a key")
                skipWhitespace()
                _ = try skipValue(depth: depth + 1)
                skipWhitespace()
                guard position < end else { throw SyntaxError(message: "unterminated object") }
                let next = bytes[position]
                position += 1
                if next == UInt8(ascii: ",") { continue }
                if next == UInt8(ascii: "}") { return .object }
                throw SyntaxError(message: "expected ',' or '}' after a value")
            }
        case UInt8(ascii: "["):
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                position += 1
                return .array
            }
            while true {
                skipWhitespace()
                _ = try skipValue(depth: depth + 1)
                skipWhitespace()
                guard position < end else { throw SyntaxError(message: "unterminated array") }
                let next = bytes[position]
                position += 1
                if next == UInt8(ascii: ",") { continue }
                if next == UInt8(ascii: "]") { return .array }
                throw SyntaxError(message: "expected ',' or ']' after a value")
            }
        default:
            return try parseValue()
        }
    }

    /// How a scanned string must be decoded.
    private enum StringKind {
        /// ASCII without escapes: the bytes are the string.
        case ascii
        /// No escapes, some non-ASCII bytes: validate as UTF-8.
        case utf8
        /// Has escapes.
        case escaped
    }

    /// Scans a string starting at the opening quote; returns the content range and how to decode it,
    /// leaving `position` after the closing quote.
    private mutating func scanString() throws -> (Int, Int, StringKind) {
        position += 1
        let start = position
        var kind = StringKind.ascii
        while position < end {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let stop = position
                position += 1
                return (start, stop, kind)
            }
            if byte == UInt8(ascii: "\\") {
                kind = .escaped
                position += 2
                continue
            }
            if byte < 0x20 { throw SyntaxError(message: "control character in a string") }
            if byte >= 0x80, kind == .ascii { kind = .utf8 }
            position += 1
        }
        throw SyntaxError(message: "unterminated string")
    }

    private func decodeString(_ start: Int, _ stop: Int, _ kind: StringKind) throws -> String {
        if kind == .ascii {
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
        }
        if kind == .utf8 {
            guard let string = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self) else {
                throw SyntaxError(message: "a string is not valid UTF-8")
            }
            return string
        }
        do {
            return try JSONStringBody.decode(bytes, from: start, to: stop)
        } catch {
            throw SyntaxError(message: error.rule)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func parseNumber() throws -> RawValue {
        let start = position
        var negative = false
        if bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var integer: UInt64 = 0
        while position < end, bytes[position] &- UInt8(ascii: "0") < 10 {
            integer = integer &* 10 &+ UInt64(bytes[position] &- UInt8(ascii: "0"))
            position += 1
        }
        let digitCount = position - digitsStart
        guard digitCount > 0 else { throw SyntaxError(message: "malformed number") }
        if digitCount > 1 && bytes[digitsStart] == UInt8(ascii: "0") { throw SyntaxError(message: "malformed number") }
        var isInteger = true
        if position < end, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            let fractionStart = position
            while position < end, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            guard position > fractionStart else { throw SyntaxError(message: "malformed number") }
        }
        if position < end, bytes[position] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            position += 1
            if position < end, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            let exponentStart = position
            while position < end, bytes[position] &- UInt8(ascii: "0") < 10 { position += 1 }
            guard position > exponentStart else { throw SyntaxError(message: "malformed number") }
        }
        if isInteger && digitCount <= 18 {
            let value = negative ? -Int(integer) : Int(integer)
            return .number(Double(value), integer: value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text) else { throw SyntaxError(message: "malformed number") }
        return Self.number(value)
    }

    /// A number value, with its integer form when it is an exact integer in `Int` range.
    static func number(_ value: Double) -> RawValue {
        if value.isFinite, value == value.rounded(.towardZero), abs(value) < 9.0e18 {
            return .number(value, integer: Int(value))
        }
        return .number(value, integer: nil)
    }
}
