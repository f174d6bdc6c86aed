import Foundation
import PostgresNIO
import VeilCore
import VeilStore

/// The event row on PostgreSQL, defined once: the columns in order, the select list a read decodes
/// (whole, or pruned to the fields a scan needs), and the COPY text line a write sends.
///
/// COPY's text format: columns separated by a tab, a row ended by a newline, NULL as `\N`; a
/// backslash, tab, newline or carriage return inside a value is escaped with a backslash; bytea is
/// written as `\\x` and hex (the doubled backslash is COPY's escape of bytea's `\x`). postgres-nio
/// 1.33.2 offers only the text format for COPY (`PostgresCopyFromFormat.text`), so the binary format
/// is not used.
enum PostgresEventRow {
    /// The stored columns, in table order (`seq` comes from the sequence).
    static let columns = [
        "event_id", "pid", "epoch", "type", "ts_ms", "session_pid", "item_id", "category", "price", "quantity", "rating", "query",
        "properties",
    ]

    /// What a read of whole events selects: `seq`, then `columns`; decode with `decode`.
    static let selectList = selectList(reading: nil)

    /// The select list of a read that needs only `fields` (nil: all): `seq`, then every column at its
    /// position, a column no field asks for selected as a typed constant (`''` for `event_id`, else
    /// NULL) so the server neither sends nor `decode` reads it and the event leaves it empty. The
    /// pseudonym, epoch, type and time are always selected.
    static func selectList(reading fields: Set<StoredEventField>?) -> String {
        let list = columns.map { column in
            guard let fields, let (field, type) = optionalColumns[column], !fields.contains(field) else { return column }
            return field == .eventID ? "''::text" : "NULL::\(type)"
        }
        return (["seq"] + list).joined(separator: ", ")
    }

    /// The columns a scan may leave out, with the field that needs each and its SQL type.
    private static let optionalColumns: [String: (StoredEventField, String)] = [
        "event_id": (.eventID, "text"), "session_pid": (.session, "bytea"), "item_id": (.itemID, "text"),
        "category": (.category, "text"), "price": (.price, "double precision"), "quantity": (.quantity, "bigint"),
        "rating": (.rating, "bigint"), "query": (.query, "text"), "properties": (.properties, "text"),
    ]

    /// The event in a row read with `selectList` (or `selectList(reading:)`), and its `seq`.
    ///
    /// The scans' hot path: the cells are read in order straight from the row's buffer (postgres-nio
    /// receives results in the binary format), fixed-width integers and doubles as big-endian words,
    /// pseudonyms as two words, without `PostgresRow.decode`'s generic per-column dispatch.
    static func decode(_ row: PostgresRow) throws -> (event: StoredEvent, seq: Int64) {
        var cells = PostgresCellReader(row)
        let seq = try cells.integer()
        guard let seq else { throw malformed(seq: nil) }
        do {
            guard let eventID = try cells.text(), let pseudonym = try cells.pseudonym(), let epochValue = try cells.integer(),
                let epoch = UInt32(exactly: epochValue), let typeName = try cells.text(), let type = EventType(rawValue: typeName),
                let timestamp = try cells.integer()
            else { throw malformed(seq: seq) }
            let session = try cells.pseudonym()
            let itemID = try cells.text()
            let category = try cells.text()
            let price = try cells.double()
            let quantity = try cells.integer()
            let rating = try cells.integer()
            let query = try cells.text()
            var properties: [String: Double] = [:]
            if let text = try cells.text() {
                guard let parsed = EventProperties.parse(text) else {
                    throw VeilError(.integrity, field: "events", "a stored event's properties are malformed (seq \(seq))")
                }
                properties = parsed
            }
            let event = StoredEvent(
                eventID: eventID, pseudonym: pseudonym, epoch: epoch, type: type, timestampMillis: timestamp, session: session,
                itemID: itemID, category: category, price: price, quantity: quantity.map { Int($0) }, rating: rating.map { Int($0) },
                query: query, properties: properties)
            return (event, seq)
        } catch is PostgresCellReader.Malformed {
            throw malformed(seq: seq)
        }
    }

    private static func malformed(seq: Int64?) -> VeilError {
        VeilError(.integrity, field: "events", "a stored event row is malformed" + (seq.map { " (seq \($0))" } ?? ""))
    }

    static func pseudonym(_ buffer: ByteBuffer) -> Pseudonym? {
        guard buffer.readableBytes == 16, let high = buffer.getInteger(at: buffer.readerIndex, as: UInt64.self),
            let low = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt64.self)
        else { return nil }
        return Pseudonym(high: high, low: low)
    }

    /// Appends `event`'s COPY text line: its columns (`columns`, in order) and the line's end.
    static func appendCopyLine(_ event: StoredEvent, to out: inout ByteBuffer) {
        text(event.eventID, &out)
        tab(&out)
        bytea(event.pseudonym, &out)
        tab(&out)
        integer(Int64(event.epoch), &out)
        tab(&out)
        text(event.type.rawValue, &out)
        tab(&out)
        integer(event.timestampMillis, &out)
        tab(&out)
        if let session = event.session { bytea(session, &out) } else { null(&out) }
        tab(&out)
        optionalText(event.itemID, &out)
        tab(&out)
        optionalText(event.category, &out)
        tab(&out)
        if let price = event.price { double(price, &out) } else { null(&out) }
        tab(&out)
        if let quantity = event.quantity { integer(Int64(quantity), &out) } else { null(&out) }
        tab(&out)
        if let rating = event.rating { integer(Int64(rating), &out) } else { null(&out) }
        tab(&out)
        optionalText(event.query, &out)
        tab(&out)
        optionalText(EventProperties.text(event.properties), &out)
        out.writeInteger(UInt8(ascii: "\n"))
    }

    static func tab(_ out: inout ByteBuffer) { out.writeInteger(UInt8(ascii: "\t")) }

    static func null(_ out: inout ByteBuffer) { out.writeStaticString("\\N") }

    /// Decimal digits, made right to left in a scratch space on the stack (no string).
    static func integer(_ value: Int64, _ out: inout ByteBuffer) {
        if value < 0 { out.writeInteger(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.writeBytes(UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// A finite double in Swift's shortest round-trip form (which PostgreSQL reads back exactly).
    static func double(_ value: Double, _ out: inout ByteBuffer) {
        if value.isNaN {
            out.writeStaticString("NaN")
        } else if value.isInfinite {
            out.writeStaticString(value < 0 ? "-Infinity" : "Infinity")
        } else {
            out.writeString(value.description)
        }
    }

    /// `\\x` and 32 hex digits, made in a scratch space on the stack and written at once.
    static func bytea(_ pseudonym: Pseudonym, _ out: inout ByteBuffer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 35) { text in
            text[0] = UInt8(ascii: "\\")
            text[1] = UInt8(ascii: "\\")
            text[2] = UInt8(ascii: "x")
            func put(_ word: UInt64, at start: Int) {
                for digit in 0..<16 { text[start + digit] = hexDigits[Int((word >> UInt64(60 - 4 * digit)) & 0x0F)] }
            }
            put(pseudonym.high, at: 3)
            put(pseudonym.low, at: 19)
            out.writeBytes(UnsafeBufferPointer(text))
        }
    }

    static func optionalText(_ value: String?, _ out: inout ByteBuffer) {
        if let value { text(value, &out) } else { null(&out) }
    }

    /// A text value with COPY's escapes (written as it is when it needs none, as most values do).
    static func text(_ value: String, _ out: inout ByteBuffer) {
        var value = value
        let plain = value.withUTF8 { bytes in !bytes.contains { $0 == UInt8(ascii: "\\") || $0 < 0x20 } }
        guard !plain else {
            out.writeString(value)
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): out.writeStaticString("\\t")
            case UInt8(ascii: "\n"): out.writeStaticString("\\n")
            case UInt8(ascii: "\r"): out.writeStaticString("\\r")
            default: out.writeInteger(byte)
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

/// Reads a row's cells in order, each as the type its column must have (binary format), NULL as nil;
/// a cell of another type or size throws `Malformed`.
struct PostgresCellReader {
    struct Malformed: Error {}

    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    /// The next cell, in the binary format.
    private mutating func next() throws -> PostgresCell {
        guard let cell = cells.next(), cell.format == .binary else { throw Malformed() }
        return cell
    }

    /// An `int8`, `int4` or `int2` cell.
    mutating func integer() throws -> Int64? {
        let cell = try next()
        guard cell.dataType == .int8 || cell.dataType == .int4 || cell.dataType == .int2 else { throw Malformed() }
        guard let bytes = cell.bytes else { return nil }
        let at = bytes.readerIndex
        switch bytes.readableBytes {
        case 8: return bytes.getInteger(at: at, as: Int64.self)
        case 4: return bytes.getInteger(at: at, as: Int32.self).map(Int64.init)
        case 2: return bytes.getInteger(at: at, as: Int16.self).map(Int64.init)
        default: throw Malformed()
        }
    }

    /// A `float8` cell.
    mutating func double() throws -> Double? {
        let cell = try next()
        guard cell.dataType == .float8 else { throw Malformed() }
        guard let bytes = cell.bytes else { return nil }
        guard bytes.readableBytes == 8, let bits = bytes.getInteger(at: bytes.readerIndex, as: UInt64.self) else { throw Malformed() }
        return Double(bitPattern: bits)
    }

    /// A `text` or `varchar` cell (UTF-8, as the server sends it).
    mutating func text() throws -> String? {
        let cell = try next()
        guard cell.dataType == .text || cell.dataType == .varchar else { throw Malformed() }
        guard let bytes = cell.bytes else { return nil }
        return bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes) ?? ""
    }

    /// A 16-byte `bytea` cell.
    mutating func pseudonym() throws -> Pseudonym? {
        let cell = try next()
        guard cell.dataType == .bytea else { throw Malformed() }
        guard let bytes = cell.bytes else { return nil }
        guard let pseudonym = PostgresEventRow.pseudonym(bytes) else { throw Malformed() }
        return pseudonym
    }
}

extension PostgresRowSequence {
    /// Reads (and discards) every row: waits for the statement to finish and surfaces its error.
    func drain() async throws {
        for try await _ in self {}
    }
}
