import CSodium

/// An Ed25519 public key (32 bytes), used to verify audit-log signatures.
public struct SigningPublicKey: Sendable, Hashable {
    /// The raw 32-byte key.
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; returns nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// True when `signature` is a valid Ed25519 detached signature of `message` under this key
    /// (`crypto_sign_verify_detached`).
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        Sodium.ready()
        guard signature.count == 64 else { return false }
        return message.withUnsafeBufferPointer { msg in
            crypto_sign_verify_detached(signature, msg.baseAddress, UInt64(msg.count), bytes) == 0
        }
    }
}

/// An Ed25519 signing key, kept as its 32-byte seed (the form RFC 8032 and most bindings use;
/// PyNaCl's `SigningKey(seed)` takes the same bytes).
public struct SigningKey: Sendable {
    /// The 32-byte seed.
    public let seed: SecretBytes
    public let publicKey: SigningPublicKey
    /// libsodium's expanded 64-byte secret key (seed ‖ public key).
    private let expanded: SecretBytes

    /// Derives the key pair from a 32-byte seed (`crypto_sign_seed_keypair`).
    public init(seed: SecretBytes) {
        precondition(seed.count == 32, "an Ed25519 seed is 32 bytes")
        Sodium.ready()
        var publicBytes = [UInt8](repeating: 0, count: 32)
        expanded = SecretBytes(count: 64) { secret in
            seed.withUnsafeBytes { seedBytes in
                _ = crypto_sign_seed_keypair(
                    &publicBytes, secret.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    seedBytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        self.seed = seed
        publicKey = SigningPublicKey(bytes: publicBytes)!
    }

    /// A new key pair from a random seed.
    public static func generate() -> SigningKey { SigningKey(seed: SecretBytes(randomCount: 32)) }

    /// The 64-byte detached signature of `message` (`crypto_sign_detached`).
    public func signature(for message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        message.withUnsafeBufferPointer { msg in
            expanded.withUnsafeBytes { secret in
                _ = crypto_sign_detached(
                    &signature, nil, msg.baseAddress, UInt64(msg.count),
                    secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return signature
    }
}
