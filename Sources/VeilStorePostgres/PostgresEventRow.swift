import Foundation
import PostgresNIO
import VeilCore

/// The event row on PostgreSQL, defined once: the columns in order, the select list a read decodes,
/// and the COPY text line a write sends.
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
    static let selectList = (["seq"] + columns).joined(separator: ", ")

    /// The Swift types of `selectList`, in order, for `PostgresRow.decode`.
    typealias Decoded = (
        Int64, String, ByteBuffer, Int64, String, Int64, ByteBuffer?, String?, String?, Double?, Int64?, Int64?, String?, String?
    )

    /// The event in a row read with `selectList`, and its `seq`.
    static func decode(_ row: PostgresRow) throws -> (event: StoredEvent, seq: Int64) {
        let (seq, eventID, pid, epoch, typeName, timestamp, session, itemID, category, price, quantity, rating, query, propertiesText) =
            try row.decode(Decoded.self)
        var properties: [String: Double] = [:]
        if let propertiesText {
            guard let parsed = EventProperties.parse(propertiesText) else {
                throw VeilError(.integrity, field: "events", "a stored event's properties are malformed (seq \(seq))")
            }
            properties = parsed
        }
        guard let pseudonym = pseudonym(pid), let epoch = UInt32(exactly: epoch), let type = EventType(rawValue: typeName) else {
            throw VeilError(.integrity, field: "events", "a stored event row is malformed (seq \(seq))")
        }
        var sessionPseudonym: Pseudonym?
        if let session {
            guard let value = Self.pseudonym(session) else {
                throw VeilError(.integrity, field: "events", "a stored session pseudonym is malformed (seq \(seq))")
            }
            sessionPseudonym = value
        }
        let event = StoredEvent(
            eventID: eventID, pseudonym: pseudonym, epoch: epoch, type: type, timestampMillis: timestamp, session: sessionPseudonym,
            itemID: itemID, category: category, price: price, quantity: quantity.map { Int($0) }, rating: rating.map { Int($0) },
            query: query, properties: properties)
        return (event, seq)
    }

    static func pseudonym(_ buffer: ByteBuffer) -> Pseudonym? {
        buffer.withUnsafeReadableBytes { Pseudonym(rawBytes: $0) }
    }

    /// Appends `event`'s columns (`columns`, in order) and the line's end to a COPY text line that
    /// the caller may have started with columns of its own.
    static func appendCopyLine(_ event: StoredEvent, to out: inout [UInt8]) {
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
        out.append(UInt8(ascii: "\n"))
    }

    static func tab(_ out: inout [UInt8]) { out.append(UInt8(ascii: "\t")) }

    static func null(_ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "N"))
    }

    static func integer(_ value: Int64, _ out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    /// A finite double in Swift's shortest round-trip form (which PostgreSQL reads back exactly).
    static func double(_ value: Double, _ out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: "NaN".utf8)
        } else if value.isInfinite {
            out.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8)
        } else {
            out.append(contentsOf: "\(value)".utf8)
        }
    }

    /// `\\x` and 32 hex digits.
    static func bytea(_ pseudonym: Pseudonym, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "x"))
        for byte in pseudonym.bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    static func optionalText(_ value: String?, _ out: inout [UInt8]) {
        if let value { text(value, &out) } else { null(&out) }
    }

    /// A text value with COPY's escapes.
    static func text(_ value: String, _ out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            default: out.append(byte)
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

extension PostgresRowSequence {
    /// Reads (and discards) every row: waits for the statement to finish and surfaces its error.
    func drain() async throws {
        for try await _ in self {}
    }
}
