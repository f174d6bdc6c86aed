import Foundation
import VeilCore

/// Printing for the CLI: text to stdout, JSON documents with stable key order, notes to stderr.
enum Output {
    /// Prints `value` as one JSON document (sorted keys, no escaped slashes, ISO 8601 dates) on stdout.
    static func json<Value: Encodable>(_ value: Value) throws {
        FileHandle.standardOutput.write(Data(try jsonText(value).utf8))
    }

    /// `value` as the JSON document `json` prints, ending in a newline.
    static func jsonText<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// `value` as one line of JSON (sorted keys, slashes unescaped).
    static func compactJSON(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// Prints a line to stderr (warnings, notes for the operator).
    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
