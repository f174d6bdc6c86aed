import Foundation
import VeilCore

/// How the cells of a CSV line are separated.
public enum CSVDelimiter: String, Sendable, CaseIterable, Codable {
    case comma, tab, semicolon, pipe
    /// Two colons, `::`, as MovieLens 1M and 10M write their `.dat` files (`UserID::MovieID::Rating::Timestamp`).
    case doubleColon = "double_colon"
    /// Runs of spaces and tabs (no quoting), as in fixed-width or `awk`-style exports.
    case whitespace

    /// Guesses from the first line: a tab, else a comma, else a semicolon, else a pipe, else `::`, else
    /// whitespace.
    static func detect(header: UnsafeBufferPointer<UInt8>) -> CSVDelimiter {
        if header.contains(0x09) { return .tab }
        if header.contains(UInt8(ascii: ",")) { return .comma }
        if header.contains(UInt8(ascii: ";")) { return .semicolon }
        if header.contains(UInt8(ascii: "|")) { return .pipe }
        let colon = UInt8(ascii: ":")
        if zip(header, header.dropFirst()).contains(where: { $0 == colon && $1 == colon }) { return .doubleColon }
        return .whitespace
    }

    /// The separator: a byte and how many times in a row it stands (`::` is a colon twice); nil for runs
    /// of whitespace.
    var separator: (byte: UInt8, width: Int)? {
        switch self {
        case .comma: (UInt8(ascii: ","), 1)
        case .tab: (0x09, 1)
        case .semicolon: (UInt8(ascii: ";"), 1)
        case .pipe: (UInt8(ascii: "|"), 1)
        case .doubleColon: (UInt8(ascii: ":"), 2)
        case .whitespace: nil
        }
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
    /// The file `bytes` maps, whose pages behind the reader it gives back (nil: a buffer of the caller's).
    private let releasing: MappedFile?
    /// Where the pages not yet given back start.
    private var releasedTo: Int

    /// Bytes read between two releases of the pages behind the reader (8 MiB): what a reader keeps
    /// resident of its file, apart from the record it is on.
    static let releaseStride = 8 << 20

    /// The byte offset reached (for progress).
    var offset: Int { position }

    /// How CSV cells become event fields.
    struct CSVLayout: Sendable {
        var delimiter: CSVDelimiter
        var quote: UInt8?
        /// How each event field is computed from a row's cells.
        var rows: RowMapping
        var columnCount: Int
        /// Where the rows start: the byte after the header line (0 without one), and its line number.
        var bodyStart: Int
        var bodyFirstLine: Int
    }

    /// A reader of the NDJSON lines in `range` (default: all), the first being line `firstLine`. With
    /// `releasing` (the file `bytes` maps), it gives the pages it has read back as it goes.
    init(
        ndjson bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>? = nil, firstLine: Int = 1, releasing: MappedFile? = nil
    ) {
        self.bytes = bytes
        position = range?.lowerBound ?? 0
        end = range?.upperBound ?? bytes.count
        lineNumber = firstLine
        csv = nil
        self.releasing = releasing
        releasedTo = position
    }

    /// A reader of the CSV rows in `range` (default: all rows after the header); `releasing` as for NDJSON.
    init(
        csv bytes: UnsafeBufferPointer<UInt8>, layout: CSVLayout, range: Range<Int>? = nil, firstLine: Int? = nil,
        releasing: MappedFile? = nil
    ) {
        self.bytes = bytes
        position = range?.lowerBound ?? layout.bodyStart
        end = range?.upperBound ?? bytes.count
        lineNumber = firstLine ?? layout.bodyFirstLine
        csv = layout
        self.releasing = releasing
        releasedTo = position
    }

    /// The layout of a CSV file under `mapping`: the columns it names (a header-less file), or its
    /// header (the first non-blank line), bound to the mapping's expressions.
    static func csvLayout(_ bytes: UnsafeBufferPointer<UInt8>, mapping: ImportMapping, file: String) throws -> CSVLayout {
        var position = 0
        var lineNumber = 1
        var firstLine: Range<Int>? = nil
        while position < bytes.count {
            let line = nextLine(bytes, &position, end: bytes.count)
            lineNumber += 1
            if !isBlank(bytes, line) {
                firstLine = line
                break
            }
        }
        let delimiter = mapping.delimiter ?? firstLine.map { CSVDelimiter.detect(header: UnsafeBufferPointer(rebasing: bytes[$0])) } ?? .comma
        let quote = mapping.quote.byte
        if let columns = mapping.columns {
            let rows = try RowMapping(mapping, columns: columns, file: file, headerless: true)
            return CSVLayout(delimiter: delimiter, quote: quote, rows: rows, columnCount: columns.count, bodyStart: 0, bodyFirstLine: 1)
        }
        guard let firstLine else {
            throw VeilError(.invalidInput, field: file, "has no header row; a CSV import needs one naming the columns, or the names given (--columns)")
        }
        let header = UnsafeBufferPointer(rebasing: bytes[firstLine])
        let names: [String]
        switch split(header, delimiter, quote: quote, maxCells: ImportMapping.maxColumns) {
        case .cells(let cells): names = cells
        case .tooMany: throw VeilError(.invalidInput, field: file, "the header row has more than \(ImportMapping.maxColumns) columns")
        case .problem: throw VeilError(.invalidInput, field: file, "the header row is not valid \(delimiter)-separated UTF-8 text")
        }
        let rows = try RowMapping(mapping, columns: names, file: file, headerless: false)
        return CSVLayout(
            delimiter: delimiter, quote: quote, rows: rows, columnCount: names.count, bodyStart: min(position, bytes.count),
            bodyFirstLine: lineNumber)
    }

    /// Splits `start..<bytes.count` into up to `parts` ranges that end at line boundaries, with the
    /// line number each starts at. Counting those lines reads every range but the last; `releasing`
    /// (the file `bytes` maps) gets the pages back behind the count every `releaseStride` bytes, as a
    /// reader does, so splitting a large file does not make it resident.
    static func segments(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, firstLine: Int, parts: Int, releasing: MappedFile?
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
            if upper < count {
                for stride in Swift.stride(from: lower, to: upper, by: releaseStride) {
                    let strideEnd = min(upper, stride + releaseStride)
                    line += newlines(bytes, stride..<strideEnd)
                    releasing?.release(from: stride, to: strideEnd)
                }
            }
            lower = upper
            if lower >= count { break }
        }
        return result
    }

    /// The newlines in `range` of `bytes`.
    static func newlines(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
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
        if let releasing, position - releasedTo >= Self.releaseStride {
            releasedTo = releasing.release(from: releasedTo, to: position)
        }
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

    private static func csvRecord(_ line: UnsafeBufferPointer<UInt8>, _ layout: CSVLayout) -> ParsedRecord {
        switch split(line, layout.delimiter, quote: layout.quote, maxCells: layout.columnCount) {
        case .problem(let message):
            return .malformed(EventProblemDraft(field: "line", message: message))
        case .tooMany:
            return .malformed(EventProblemDraft(field: "line", message: "has more than the file's \(layout.columnCount) columns"))
        case .cells(let cells):
            guard cells.count == layout.columnCount else {
                return .malformed(
                    EventProblemDraft(
                        field: "line", message: "has \(cells.count) columns, the file has \(layout.columnCount)"))
            }
            return layout.rows.record(cells)
        }
    }

    private static func split(_ line: UnsafeBufferPointer<UInt8>, _ delimiter: CSVDelimiter, quote: UInt8?, maxCells: Int) -> Split {
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
        guard let (separator, width) = delimiter.separator else {
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
        /// Whether the separator starts at `position`.
        func separates(at position: Int) -> Bool {
            guard line[position] == separator else { return false }
            guard width > 1 else { return true }
            guard position + width <= count else { return false }
            for offset in 1..<width where line[position + offset] != separator { return false }
            return true
        }
        while true {
            var start = index
            while start < count, line[start] == 0x20 { start += 1 }
            if let quote, start < count, line[start] == quote {
                var value: [UInt8] = []
                var cursor = start + 1
                var closed = false
                while cursor < count {
                    if line[cursor] == quote {
                        if cursor + 1 < count, line[cursor + 1] == quote {
                            value.append(quote)
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
                guard cursor == count || separates(at: cursor) else {
                    return .problem("has characters after a quoted cell")
                }
                guard let text = String(validating: value, as: UTF8.self) else { return .problem("is not valid UTF-8") }
                guard cells.count < maxCells else { return .tooMany }
                cells.append(text)
                if cursor == count { return .cells(cells) }
                index = cursor + width
            } else {
                var end = index
                while end < count, !separates(at: end) { end += 1 }
                guard let text = cell(index..<end) else { return .problem("is not valid UTF-8") }
                guard cells.count < maxCells else { return .tooMany }
                cells.append(text)
                if end == count { return .cells(cells) }
                index = end + width
            }
        }
    }
}
