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

/// A plain-text table for the terminal: a header row and rows of cells, each column as wide as its
/// widest cell, numbers right-aligned. Give every number of a column the same formatter (e.g.
/// `TextTable.count`), so a column never mixes formats.
struct TextTable {
    enum Alignment { case left, right }

    let columns: [(title: String, alignment: Alignment)]
    private(set) var rows: [[String]] = []

    init(_ columns: [(title: String, alignment: Alignment)]) {
        self.columns = columns
    }

    mutating func append(_ cells: [String]) {
        precondition(cells.count == columns.count, "a row has one cell per column")
        rows.append(cells)
    }

    /// The table's lines, header first, columns separated by two spaces, no trailing blanks.
    var lines: [String] {
        let all = [columns.map(\.title)] + rows
        let widths = columns.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { cells in
            let padded = cells.enumerated().map { column, cell in
                let fill = String(repeating: " ", count: widths[column] - cell.count)
                return columns[column].alignment == .right ? fill + cell : cell + fill
            }
            return padded.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
    }

    /// A count with thousands separators: `12,345`.
    static func count(_ value: some BinaryInteger) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return (value < 0 ? "-" : "") + grouped
    }

    /// A byte count in binary units with one decimal (`12.3 MiB`), bytes below 1 KiB.
    static func bytes(_ value: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard value >= 1024 else { return "\(value) B" }
        var scaled = Double(value) / 1024
        var unit = 0
        while scaled >= 1024 && unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return String(format: "%.1f", scaled) + " " + units[unit]
    }
}

/// The one way the CLI prints ε: fixed-point with 4 decimals, or more when a value below 0.001 needs
/// them to show two significant digits. A format is made for a set of values (a table column, a
/// block of lines), so they share one number of decimals, and a tiny ε is never printed as 0.0000.
struct EpsilonFormat {
    /// Decimals after the point: 4, up to 15 for the smallest positive value.
    let decimals: Int

    init(_ values: [Double]) {
        let smallest = values.filter { $0 > 0 && $0.isFinite }.min() ?? 1
        decimals = smallest >= 0.001 ? 4 : min(15, Int((-log10(smallest)).rounded(.down)) + 2)
    }

    func callAsFunction(_ value: Double) -> String { String(format: "%.\(decimals)f", value) }

    /// One ε on its own.
    static func text(_ value: Double) -> String { EpsilonFormat([value])(value) }
}

/// One fixed-point format for every number of a table column: no decimals when every value is whole,
/// otherwise as many as give the column's largest magnitude four significant digits (at least one,
/// at most six), so the digits of one column line up and a noisy 1234.5 never sits beside 0.1235.
struct ColumnNumberFormat {
    /// Decimals after the point.
    let decimals: Int

    init(_ values: [Double]) {
        let finite = values.filter(\.isFinite)
        guard finite.contains(where: { $0 != $0.rounded() }) else {
            decimals = 0
            return
        }
        let largest = finite.map(abs).max() ?? 0
        let integerDigits = largest >= 1 ? Int(log10(largest).rounded(.down)) + 1 : 0
        decimals = min(6, max(1, 4 - integerDigits))
    }

    func callAsFunction(_ value: Double) -> String {
        value.isFinite ? String(format: "%.\(decimals)f", value) : "n/a"
    }
}
