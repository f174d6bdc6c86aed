import Foundation

/// Printing for the CLI: text to stdout, JSON documents with stable key order, notes to stderr.
enum Output {
    /// Prints `value` as one JSON document (sorted keys, no escaped slashes, ISO 8601 dates) on stdout.
    static func json<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// Prints a line to stderr (warnings, notes for the operator).
    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
