import Foundation
import VeilCore

/// How the cells of a CSV line are separated.
public enum CSVDelimiter: String, Sendable, CaseIterable, Codable {
    case comma, tab
    /// Runs of spaces and tabs (no quoting), as in fixed-width or `awk`-style exports.
    case whitespace

    /// Guesses from the header line: a tab, else a comma, else whitespace.
    static func detect(header: UnsafeBufferPointer<UInt8>) -> CSVDelimiter {
        if header.contains(0x09) { return .tab }
        if header.contains(UInt8(ascii: ",")) { return .comma }
        return .whitespace
    }
}

/// Reads the records of a mapped file in order, one line each: NDJSON objects, or CSV rows after a
/// header row. Yields each record with its 1-based line number.
struct RecordReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position: Int
    private let end: Int
    private var lineNumber: Int
    private let csv: CSVLayout?

    /// The byte offset reached (for progress).
    var offset: Int { position }

    /// How CSV cells become event fields.
    struct CSVLayout: Sendable {
        var delimiter: CSVDelimiter
        /// For each event field, the index of its column.
        var columns: [(EventField, Int)]
        var columnCount: Int
        /// Header names that no event field maps to.
        var ignoredColumns: [String]
        /// Where the rows start: the byte after the header line, and its line number.
        var bodyStart: Int
        var bodyFirstLine: Int
    }

    /// A reader of the NDJSON lines in `range` (default: all), the first being line `firstLine`.
    init(ndjson bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>? = nil, firstLine: Int = 1) {
        self.bytes = bytes
        position = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
        lineNumber = firstLine
        csv = nil
    }

    /// A reader of the CSV rows in `range` (default: all rows after the header).
    init(csv bytes: UnsafeBufferPointer<UInt8>, layout: CSVLayout, range: Range<Int>? = nil, firstLine: Int? = nil) {
        self.bytes = bytes
        position = range?.lowerBound ?? layout.bodyStart
        end = range?.upperBound ?? bytes.count
        lineNumber = firstLine ?? layout.bodyFirstLine
        csv = layout
    }

    /// Reads the header (the first non-blank line) and maps columns: an event field maps to the column
    /// `map` names for it, else to a column named like the field.
    static func csvLayout(
        _ bytes: UnsafeBufferPointer<UInt8>, delimiter: CSVDelimiter?, map: [EventField: String], file: String
    ) throws -> CSVLayout {
        var position = 0
        var lineNumber = 1
        var headerRange: Range<Int>? = nil
        while position < bytes.count {
            let line = nextLine(bytes, &position, end: bytes.count)
            lineNumber += 1
            if !isBlank(bytes, line) {
                headerRange = line
                break
            }
        }
        guard let headerRange else {
            throw VeilError(.invalidInput, field: file, "has no header row; a CSV import needs one naming the columns")
        }
        let header = UnsafeBufferPointer(rebasing: bytes[headerRange])
        let delimiter = delimiter ?? CSVDelimiter.detect(header: header)
        let names: [String]
        switch split(header, delimiter, maxCells: maxColumns) {
        case .cells(let cells): names = cells
        case .tooMany: throw VeilError(.invalidInput, field: file, "the header row has more than \(maxColumns) columns")
        case .problem: throw VeilError(.invalidInput, field: file, "the header row is not valid \(delimiter)-separated UTF-8 text")
        }
        var columns: [(EventField, Int)] = []
        var used = Set<Int>()
        for field in EventField.allCases {
            if let name = map[field] {
                guard let index = names.firstIndex(of: name) else {
                    // The header's cells are not listed: without a header row they would be a record's values.
                    throw VeilError(
                        .invalidInput, field: "--map",
                        "column \"\(name)\" (for \(field.rawValue)) is not in the header row of \(file) (its first non-blank line)")
                }
                columns.append((field, index))
                used.insert(index)
            } else if let index = names.firstIndex(of: field.rawValue), !map.values.contains(field.rawValue) {
                columns.append((field, index))
                used.insert(index)
            }
        }
        // A row without a user_id column is not a header (perhaps the file has none and this is a
        // record): refuse before any of its cells could be reported as column names.
        guard columns.contains(where: { $0.0 == .userID }) else {
            throw VeilError(
                .invalidInput, field: file,
                "the header row (first non-blank line) has no user_id column; name one user_id or map it with --map user_id=COLUMN")
        }
        let ignored = names.indices.filter { !used.contains($0) }.map { names[$0] }
        return CSVLayout(
            delimiter: delimiter, columns: columns, columnCount: names.count, ignoredColumns: ignored,
            bodyStart: min(position, bytes.count), bodyFirstLine: lineNumber)
    }

    /// Splits `start..<bytes.count` into up to `parts` ranges that end at line boundaries, with the
    /// line number each starts at.
    static func segments(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, firstLine: Int, parts: Int
    ) -> [(range: Range<Int>, firstLine: Int)] {
        let count = bytes.count
        guard parts > 1, count - start > 1 << 16 else { return [(start..<count, firstLine)] }
        var result: [(Range<Int>, Int)] = []
        var lower = start
        var line = firstLine
        let step = (count - start) / parts
        for part in 0..<parts {
            var upper = part == parts - 1 ? count : min(count, lower + step)
            if upper < count {
                if let found = memchr(bytes.baseAddress! + upper, Int32(UInt8(ascii: "\n")), count - upper) {
                    upper = bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self)) + 1
                } else {
                    upper = count
                }
            }
            result.append((lower..<upper, line))
            line += newlines(bytes, lower..<upper)
            lower = upper
            if lower >= count { break }
        }
        return result
    }

    private static func newlines(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        var count = 0
        var position = range.lowerBound
        while position < range.upperBound,
            let found = memchr(bytes.baseAddress! + position, Int32(UInt8(ascii: "\n")), range.upperBound - position)
        {
            count += 1
            position = bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self)) + 1
        }
        return count
    }

    /// The next record and its line number, or nil at the end of the file. Blank lines are skipped.
    mutating func next() -> (line: Int, record: ParsedRecord)? {
        while position < end {
            let line = Self.nextLine(bytes, &position, end: end)
            let number = lineNumber
            lineNumber += 1
            if Self.isBlank(bytes, line) { continue }
            if let csv {
                return (number, Self.csvRecord(UnsafeBufferPointer(rebasing: bytes[line]), csv))
            }
            return (number, EventJSONParser.parseObjectRecord(bytes, from: line.lowerBound, to: line.upperBound))
        }
        return nil
    }

    private static func nextLine(_ bytes: UnsafeBufferPointer<UInt8>, _ position: inout Int, end limit: Int) -> Range<Int> {
        let start = position
        var end = limit
        if let found = memchr(bytes.baseAddress! + start, Int32(UInt8(ascii: "\n")), limit - start) {
            end = bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
        position = end + 1
        if end > start, bytes[end - 1] == 0x0D { return start..<(end - 1) }
        return start..<end
    }

    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        for index in range {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D: continue
            default: return false
            }
        }
        return true
    }

    // MARK: CSV

    private enum Split {
        case cells([String])
        case problem(String)
        /// More than the allowed number of cells (splitting stopped there).
        case tooMany
    }

    /// The most columns a header may name (a row may have no more cells than its header).
    static let maxColumns = 1_024

    private static let numericFields: Set<EventField> = [.price, .quantity, .rating]

    private static func csvRecord(_ line: UnsafeBufferPointer<UInt8>, _ layout: CSVLayout) -> ParsedRecord {
        switch split(line, layout.delimiter, maxCells: layout.columnCount) {
        case .problem(let message):
            return .malformed(EventProblemDraft(field: "line", message: message))
        case .tooMany:
            return .malformed(EventProblemDraft(field: "line", message: "has more than \(layout.columnCount) columns, the header has \(layout.columnCount)"))
        case .cells(let cells):
            guard cells.count == layout.columnCount else {
                return .malformed(
                    EventProblemDraft(
                        field: "line", message: "has \(cells.count) columns, the header has \(layout.columnCount)"))
            }
            var event = RawEvent()
            for (field, index) in layout.columns {
                let cell = cells[index]
                if cell.isEmpty { continue }
                if numericFields.contains(field), let value = Double(cell) {
                    event[field] = EventJSONParser.number(value)
                } else {
                    event[field] = .string(cell)
                }
            }
            return .event(event)
        }
    }

    private static func split(_ line: UnsafeBufferPointer<UInt8>, _ delimiter: CSVDelimiter, maxCells: Int) -> Split {
        var cells: [String] = []
        var index = 0
        let count = line.count
        func cell(_ range: Range<Int>) -> String? {
            var lower = range.lowerBound
            var upper = range.upperBound
            while lower < upper, line[lower] == 0x20 || line[lower] == 0x09 { lower += 1 }
            while upper > lower, line[upper - 1] == 0x20 || line[upper - 1] == 0x09 { upper -= 1 }
            return String(validating: UnsafeBufferPointer(rebasing: line[lower..<upper]), as: UTF8.self)
        }
        if delimiter == .whitespace {
            while index < count {
                while index < count, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
                guard index < count else { break }
                let start = index
                while index < count, line[index] != 0x20 && line[index] != 0x09 { index += 1 }
                guard let text = cell(start..<index) else { return .problem("is not valid UTF-8") }
                guard cells.count < maxCells else { return .tooMany }
                cells.append(text)
            }
            return .cells(cells)
        }
        let separator: UInt8 = delimiter == .tab ? 0x09 : UInt8(ascii: ",")
        while true {
            var start = index
            while start < count, line[start] == 0x20 { start += 1 }
            if start < count, line[start] == UInt8(ascii: "\"") {
                var value: [UInt8] = []
                var cursor = start + 1
                var closed = false
                while cursor < count {
                    if line[cursor] == UInt8(ascii: "\"") {
                        if cursor + 1 < count, line[cursor + 1] == UInt8(ascii: "\"") {
                            value.append(UInt8(ascii: "\""))
                            cursor += 2
                            continue
                        }
                        closed = true
                        cursor += 1
                        break
                    }
                    value.append(line[cursor])
                    cursor += 1
                }
                guard closed else { return .problem("has an unterminated quoted cell") }
                while cursor < count, line[cursor] == 0x20 { cursor += 1 }
                guard cursor == count || line[cursor] == separator else {
                    return .problem("has characters after a quoted cell")
                }
                guard let text = String(validating: value, as: UTF8.self) else { return .problem("is not valid UTF-8") }
                guard cells.count < maxCells else { return .tooMany }
                cells.append(text)
                if cursor == count { return .cells(cells) }
                index = cursor + 1
            } else {
                var end = index
                while end < count, line[end] != separator { end += 1 }
                guard let text = cell(index..<end) else { return .problem("is not valid UTF-8") }
                guard cells.count < maxCells else { return .tooMany }
                cells.append(text)
                if end == count { return .cells(cells) }
                index = end + 1
            }
        }
    }
}
