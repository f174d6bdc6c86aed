import VeilCore
import VeilCrypto

/// Idempotency keys for events imported without an `event_id`, derived from what the event says
/// (docs/ingest.md, "Events without an event_id"): `auto:` and the `ContentKeyer` digest of its
/// canonical bytes, so the same event gets the same key whatever file, name or line it came in.
enum ContentKey {
    /// The prefix of derived event IDs.
    static let prefix = "auto:"

    /// The canonical bytes of a validated, minimised event: for each field present, in this order,
    /// one tag byte, the value's length as a little-endian UInt32 and the value's bytes:
    /// 1 `user_id` (UTF-8, as given), 2 `type` (the canonical name, after aliases), 3 `timestamp`
    /// (Unix ms, little-endian Int64), 4 `session_id` (UTF-8), 5 `item_id`, 6 `category`, 7 `price`
    /// (IEEE 754 binary64 bits, little-endian; −0 as +0), 8 `quantity` and 9 `rating`
    /// (little-endian Int64), 10 `query` (UTF-8). Fields the policy drops (`ingest.drop_fields`) are
    /// absent, so they never tell two events apart.
    static func canonicalBytes(userID: String, sessionID: String?, _ event: StoredEvent) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + userID.utf8.count)
        func field(_ tag: UInt8, _ bytes: some Collection<UInt8>) {
            out.append(tag)
            withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: bytes)
        }
        func integer(_ tag: UInt8, _ value: Int64) {
            withUnsafeBytes(of: value.littleEndian) { field(tag, $0) }
        }
        field(1, userID.utf8)
        field(2, event.type.rawValue.utf8)
        integer(3, event.timestampMillis)
        if let sessionID { field(4, sessionID.utf8) }
        if let item = event.itemID { field(5, item.utf8) }
        if let category = event.category { field(6, category.utf8) }
        if let price = event.price {
            let bits = (price == 0 ? 0.0 : price).bitPattern.littleEndian
            withUnsafeBytes(of: bits) { field(7, $0) }
        }
        if let quantity = event.quantity { integer(8, Int64(quantity)) }
        if let rating = event.rating { integer(9, Int64(rating)) }
        if let query = event.query { field(10, query.utf8) }
        return out
    }
}

/// Numbers repeated content keys within one import, in file order: the first event with a given
/// content is `auto:<digest>`, the second identical one `auto:<digest>.2`, and so on. Two identical
/// records of one file are two events (two purchases of the same item on the same day); the same
/// record in another file, or in the same file imported again, is the same event.
///
/// It remembers every derived key of the file, as its 16-byte digest (about 25 bytes a record with
/// the set's spare room; a repeated one also in `repeats`), not as the 37-character key (before: about
/// 150 bytes a record).
struct ContentKeyNumbering: Sendable {
    /// A derived key's digest, read from its 32 hex characters.
    private struct Digest: Hashable, Sendable {
        var high: UInt64
        var low: UInt64

        init?(key: String) {
            let hex = key.dropFirst(ContentKey.prefix.count)
            guard hex.utf8.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
            else { return nil }
            self.high = high
            self.low = low
        }
    }

    /// Every digest seen so far.
    private var seen: Set<Digest> = []
    /// How often the digests seen more than once were seen.
    private var repeats: [Digest: Int] = [:]

    /// Renames the derived keys of `batch` (its `derived` indices) by their occurrence so far.
    mutating func number(_ batch: inout IngestService.PreparedBatch) {
        for index in batch.derived {
            let key = batch.events[index].eventID
            guard let digest = Digest(key: key) else {
                preconditionFailure("a derived event key is not auto: and 32 hex characters")
            }
            guard !seen.insert(digest).inserted else { continue }
            let count = (repeats[digest] ?? 1) + 1
            repeats[digest] = count
            batch.events[index].eventID = "\(key).\(count)"
        }
    }
}
