import Foundation
import VeilCore
import VeilCrypto

/// Synthetic users as Veil would store them: each NDJSON event parsed, its user and session IDs
/// pseudonymised with the given pseudonymisers, its `query` dropped. For tests and benchmarks that need
/// a populated store or in-memory examples without going through ingestion.
extension SyntheticShoppers {
    /// User `index`'s events as `StoredEvent`s, oldest first.
    public func storedEvents(ofUser index: Int, users: Pseudonymizer, sessions: Pseudonymizer) throws -> [StoredEvent] {
        let bytes = events(ofUser: index)
        guard !bytes.isEmpty else { return [] }
        // NDJSON → one JSON array, decoded in one pass.
        var array: [UInt8] = [UInt8(ascii: "[")]
        array.reserveCapacity(bytes.count + 2)
        for byte in bytes.dropLast() { array.append(byte == UInt8(ascii: "\n") ? UInt8(ascii: ",") : byte) }
        array.append(UInt8(ascii: "]"))
        let lines = try JSONDecoder().decode([SyntheticEventLine].self, from: Data(array))
        guard let first = lines.first else { return [] }
        let pseudonym = users.pseudonym(for: first.user_id)
        var sessionCache: [String: Pseudonym] = [:]
        return try lines.map { line in
            guard let type = EventType(rawValue: line.type), let time = Self.parseTimestamp(line.timestamp) else {
                throw VeilError(.invalidInput, field: "event", "unreadable synthetic event \(line.event_id)")
            }
            let session = sessionCache[line.session_id] ?? sessions.pseudonym(for: line.session_id)
            sessionCache[line.session_id] = session
            return StoredEvent(
                eventID: line.event_id, pseudonym: pseudonym, epoch: users.epoch, type: type, timestampMillis: time,
                session: session, itemID: line.item_id, category: line.category, price: line.price,
                quantity: line.quantity, rating: line.rating, query: nil)
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` → Unix milliseconds.
    static func parseTimestamp(_ text: String) -> Int64? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(utf8[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let date = CivilDate(year: year, month: month, day: day)
        else { return nil }
        return (Int64(date.daysSinceEpoch) * 86_400 + Int64(hour * 3600 + minute * 60 + second)) * 1000
    }
}

/// One generated event line (keys as in the file).
private struct SyntheticEventLine: Decodable {
    var event_id: String
    var user_id: String
    var type: String
    var timestamp: String
    var session_id: String
    var item_id: String?
    var category: String?
    var price: Double?
    var quantity: Int?
    var rating: Int?
}
