import VeilCore

/// The last record of a log: its sequence number and hash. An empty log's head is seq 0 with the
/// 32 zero bytes of `AuditChain.genesis`.
public struct AuditHead: Sendable, Hashable {
    public let seq: UInt64
    /// The record's 32-byte chain hash.
    public let hash: [UInt8]

    public init(seq: UInt64, hash: [UInt8]) {
        self.seq = seq
        self.hash = hash
    }

    /// The head of an empty log.
    public static let empty = AuditHead(seq: 0, hash: AuditChain.genesis)

    /// The hash as 64 lowercase hex characters.
    public var hashHex: String { Hex.encode(hash) }
}
