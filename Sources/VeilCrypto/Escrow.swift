import CSodium
import VeilCore

/// The escrow public key (X25519, `crypto_box`), held by the serving host. Data keys are sealed to it.
public struct EscrowPublicKey: Sendable, Hashable {
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; returns nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }
}

/// The escrow secret key. It belongs offline with the data-protection officer, never on the serving host.
public struct EscrowSecretKey: Sendable {
    public let secret: SecretBytes
    public let publicKey: EscrowPublicKey

    public init(secret: SecretBytes, publicKey: EscrowPublicKey) {
        precondition(secret.count == 32, "an escrow secret key is 32 bytes")
        self.secret = secret
        self.publicKey = publicKey
    }

    /// A new key pair (`crypto_box_keypair`).
    public static func generate() -> EscrowSecretKey {
        Sodium.ready()
        var publicBytes = [UInt8](repeating: 0, count: 32)
        let secret = SecretBytes(count: 32) { buffer in
            _ = crypto_box_keypair(&publicBytes, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return EscrowSecretKey(secret: secret, publicKey: EscrowPublicKey(bytes: publicBytes)!)
    }
}

/// A data key as stored: sealed to the escrow public key, named by a short public identifier.
public struct SealedDataKey: Sendable, Hashable, Codable {
    /// Lowercase hex of the first 16 bytes of BLAKE2b-256(sealed); names the key in vault rows.
    public let id: String
    /// `crypto_box_seal(data key, escrow public key)`: 32 + 48 = 80 bytes.
    public let sealed: [UInt8]

    public init(sealed: [UInt8]) {
        self.sealed = sealed
        id = Hex.encode(BLAKE2b.hash256(sealed).prefix(16))
    }
}

/// One escrowed raw ID: `crypto_aead_xchacha20poly1305_ietf_encrypt(id, ad = pid bytes, nonce, data key)`.
public struct EscrowedIdentity: Sendable, Hashable, Codable {
    /// The `SealedDataKey.id` of the data key used.
    public let dataKeyID: String
    /// 24 random bytes.
    public let nonce: [UInt8]
    /// The ciphertext with its 16-byte Poly1305 tag appended.
    public let ciphertext: [UInt8]

    public init(dataKeyID: String, nonce: [UInt8], ciphertext: [UInt8]) {
        self.dataKeyID = dataKeyID
        self.nonce = nonce
        self.ciphertext = ciphertext
    }
}

/// Encrypts raw IDs for escrow on the serving host, without ever holding the escrow secret key.
///
/// One random data key is sealed to the escrow public key once (a single public-key operation); every
/// new ID is then one XChaCha20-Poly1305 encryption with a random nonce and the pseudonym bytes as
/// associated data, so a ciphertext cannot be moved to another pseudonym's vault row.
public struct EscrowSealer: Sendable {
    public let sealedKey: SealedDataKey
    private let dataKey: SecretBytes

    /// Creates a fresh data key and seals it to `publicKey`.
    public init(publicKey: EscrowPublicKey) {
        Sodium.ready()
        let dataKey = SecretBytes(randomCount: Int(crypto_aead_xchacha20poly1305_ietf_keybytes()))
        var sealed = [UInt8](repeating: 0, count: dataKey.count + Int(crypto_box_sealbytes()))
        dataKey.withUnsafeBytes { key in
            _ = crypto_box_seal(
                &sealed, key.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(key.count), publicKey.bytes)
        }
        self.dataKey = dataKey
        sealedKey = SealedDataKey(sealed: sealed)
    }

    /// Encrypts `rawID` bound to `pseudonym`.
    public func seal(_ rawID: String, for pseudonym: Pseudonym) -> EscrowedIdentity {
        let nonce = SystemRandom.bytes(Int(crypto_aead_xchacha20poly1305_ietf_npubbytes()))
        let associated = pseudonym.bytes
        var message = Array(rawID.utf8)
        defer { SecretBytes.wipe(&message) }
        var ciphertext = [UInt8](repeating: 0, count: message.count + Int(crypto_aead_xchacha20poly1305_ietf_abytes()))
        var length: UInt64 = 0
        dataKey.withUnsafeBytes { key in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                &ciphertext, &length, message, UInt64(message.count), associated, UInt64(associated.count),
                nil, nonce, key.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return EscrowedIdentity(dataKeyID: sealedKey.id, nonce: nonce, ciphertext: ciphertext)
    }
}

/// Opens escrowed IDs with the escrow secret key: the data-protection officer's offline tool.
public struct EscrowOpener: Sendable {
    private let secretKey: EscrowSecretKey

    public init(secretKey: EscrowSecretKey) { self.secretKey = secretKey }

    /// Recovers the data key from its sealed form (`crypto_box_seal_open`).
    public func openDataKey(_ sealedKey: SealedDataKey) throws -> SecretBytes {
        Sodium.ready()
        let keyLength = sealedKey.sealed.count - Int(crypto_box_sealbytes())
        guard keyLength == Int(crypto_aead_xchacha20poly1305_ietf_keybytes()) else {
            throw VeilError(.crypto, field: "data key \(sealedKey.id)", "a sealed data key is 80 bytes")
        }
        return try SecretBytes(count: keyLength) { out in
            let status = secretKey.secret.withUnsafeBytes { secret in
                crypto_box_seal_open(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), sealedKey.sealed,
                    UInt64(sealedKey.sealed.count), secretKey.publicKey.bytes,
                    secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard status == 0 else {
                throw VeilError(
                    .crypto, field: "data key \(sealedKey.id)",
                    "cannot be opened with this escrow secret key (wrong key, or the sealed key was altered)")
            }
        }
    }

    /// Decrypts one escrowed ID; fails if the ciphertext, nonce or pseudonym does not match.
    public func open(_ identity: EscrowedIdentity, pseudonym: Pseudonym, dataKey: SecretBytes) throws -> String {
        let abytes = Int(crypto_aead_xchacha20poly1305_ietf_abytes())
        guard identity.ciphertext.count >= abytes,
            identity.nonce.count == Int(crypto_aead_xchacha20poly1305_ietf_npubbytes())
        else {
            throw VeilError(.crypto, field: "escrowed identity", "ciphertext or nonce has the wrong length")
        }
        var message = [UInt8](repeating: 0, count: identity.ciphertext.count - abytes)
        var length: UInt64 = 0
        let associated = pseudonym.bytes
        let status = dataKey.withUnsafeBytes { key in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                &message, &length, nil, identity.ciphertext, UInt64(identity.ciphertext.count),
                associated, UInt64(associated.count), identity.nonce,
                key.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard status == 0 else {
            throw VeilError(
                .crypto, field: "escrowed identity",
                "authentication failed: wrong data key, or the record does not belong to pseudonym \(pseudonym.hex)")
        }
        defer { SecretBytes.wipe(&message) }
        return String(decoding: message, as: UTF8.self)
    }
}
