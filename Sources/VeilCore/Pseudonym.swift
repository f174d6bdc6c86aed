/// A pseudonym: the 16-byte keyed BLAKE2b digest that stands in for a raw user or session ID.
///
/// Stored as two big-endian 64-bit halves so it hashes and compares cheaply; shown as 32 lowercase
/// hex characters (the byte order of the digest). A pseudonym reveals nothing about the raw ID without
/// the master key (see `docs/crypto.md`).
public struct Pseudonym: Hashable, Comparable, Sendable {
    /// The first eight digest bytes, big-endian.
    public let high: UInt64
    /// The last eight digest bytes, big-endian.
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds a pseudonym from exactly 16 digest bytes; returns nil for any other length.
    @inlinable
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// Builds a pseudonym from exactly 16 digest bytes in memory (a stored blob); nil for any other
    /// length. The fast path of store scans.
    public init?(rawBytes: UnsafeRawBufferPointer) {
        guard rawBytes.count == 16 else { return nil }
        self.init(
            high: UInt64(bigEndian: rawBytes.loadUnaligned(as: UInt64.self)),
            low: UInt64(bigEndian: rawBytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }

    /// Parses 32 hex characters (either case); returns nil for anything else.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex), bytes.count == 16 else { return nil }
        self.init(bytes: bytes)
    }

    /// The 16 digest bytes in order.
    public var bytes: [UInt8] {
        (0..<16).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8)))
        }
    }

    /// The canonical text form: 32 lowercase hex characters.
    public var hex: String { Hex.encode(bytes) }

    public static func < (lhs: Pseudonym, rhs: Pseudonym) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

extension Pseudonym: CustomStringConvertible {
    public var description: String { hex }
}

extension Pseudonym: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Pseudonym(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a pseudonym is 32 hex characters")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
