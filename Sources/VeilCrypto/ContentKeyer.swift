import VeilCore

/// Keyed digests of an event's content: the idempotency key of an event imported without an
/// `event_id`, so the same event is the same event whatever file or line it came from.
///
/// Construction, exactly (see `docs/crypto.md`, `docs/ingest.md`):
/// `K = crypto_kdf_derive_from_key(32, subkey_id = 1, ctx = "veil-eid", master)` and
/// `digest = crypto_generichash(outlen = 16, in = canonical bytes, key = K)`. The key does not depend
/// on the epoch, so a digest stays the same across key epochs. Without the master key a digest
/// reveals nothing about the event, not even whether two stores hold the same one.
public struct ContentKeyer: Sendable {
    private let key: SecretBytes

    /// The KDF context of content keys.
    public static let context = "veil-eid"

    public init(master: SecretBytes) {
        key = KeyDerivation.subkey(length: 32, id: 1, context: Self.context, master: master)
    }

    /// The 16-byte keyed digest of `canonical`, as 32 lowercase hex characters.
    public func digest(_ canonical: [UInt8]) -> String {
        Hex.encode(BLAKE2b.keyedHash(canonical, key: key, outputLength: 16))
    }
}
