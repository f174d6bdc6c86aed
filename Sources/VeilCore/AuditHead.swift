/// The last record of an audit chain: its sequence number and hash. An empty chain's head is seq 0
/// with 32 zero bytes (the "previous hash" of the first record).
public struct AuditHead: Sendable, Hashable {
    public let seq: UInt64
    /// The record's 32-byte chain hash.
    public let hash: [UInt8]

    public init(seq: UInt64, hash: [UInt8]) {
        self.seq = seq
        self.hash = hash
    }

    /// The head of an empty chain.
    public static let empty = AuditHead(seq: 0, hash: [UInt8](repeating: 0, count: 32))

    /// The hash as 64 lowercase hex characters.
    public var hashHex: String { Hex.encode(hash) }
}
