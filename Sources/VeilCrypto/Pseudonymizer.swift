import CSodium
import VeilCore

/// Which kind of identifier a pseudonym stands for. Each has its own key-derivation context, so a
/// user ID and a session ID with the same text get unrelated pseudonyms.
public enum PseudonymContext: String, Sendable, CaseIterable {
    /// User IDs: KDF context `veil-pid`.
    case user = "veil-pid"
    /// Session IDs: KDF context `veil-sid`.
    case session = "veil-sid"
}

/// Maps raw identifiers to pseudonyms for one key epoch and context.
///
/// Construction, exactly (see `docs/crypto.md`):
/// `K_e = crypto_kdf_derive_from_key(32, subkey_id = e, ctx = context, master)` and
/// `pid = crypto_generichash(outlen = 16, in = UTF-8 bytes of the ID as given, key = K_e)`.
/// The ID is not normalised: "Alice" and "alice" are different users.
public struct Pseudonymizer: Sendable {
    /// The key epoch `e` this pseudonymizer derives its key for.
    public let epoch: UInt32
    public let context: PseudonymContext
    private let key: SecretBytes

    /// The length of the master key and of derived keys, in bytes.
    public static let keyLength = 32

    public init(master: SecretBytes, epoch: UInt32, context: PseudonymContext) {
        precondition(master.count == Self.keyLength, "the master key is 32 bytes")
        self.epoch = epoch
        self.context = context
        key = KeyDerivation.subkey(length: Self.keyLength, id: UInt64(epoch), context: context.rawValue, master: master)
    }

    /// The pseudonym of `id` (its UTF-8 bytes exactly as given).
    public func pseudonym(for id: String) -> Pseudonym {
        var id = id
        return id.withUTF8 { pseudonym(forUTF8: UnsafeRawBufferPointer($0)) }
    }

    /// The pseudonym of an identifier given as raw UTF-8 bytes.
    public func pseudonym(forUTF8 bytes: UnsafeRawBufferPointer) -> Pseudonym {
        var digest = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &digest) { out in
            key.withUnsafeBytes { keyBytes in
                _ = crypto_generichash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), 16,
                    bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count),
                    keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), keyBytes.count)
            }
        }
        // The digest bytes are in order in memory; Pseudonym holds them as big-endian halves.
        return Pseudonym(high: UInt64(bigEndian: digest.0), low: UInt64(bigEndian: digest.1))
    }
}
