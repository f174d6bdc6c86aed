import VeilCore
import VeilCrypto

/// The hash chain that links audit records: `hash_n = BLAKE2b-256(hash_{n-1} ‖ UTF-8 bytes of body_n)`,
/// with 32 zero bytes before the first record. Each record's signature is over its 32 hash bytes.
public enum AuditChain {
    /// The "previous hash" of the first record: 32 zero bytes.
    public static let genesis = AuditHead.empty.hash

    /// The hash of a record whose body is `body`, following a record whose hash is `previous`.
    public static func link(previous: [UInt8], body: some StringProtocol) -> [UInt8] {
        BLAKE2b.hash256(previous, Array(body.utf8))
    }
}
