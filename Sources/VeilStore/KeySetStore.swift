import VeilCore

/// What identifies a key set without revealing it: a keyed hash derived from the master key and the
/// audit public key (docs/threat-model.md). A data directory belongs to the one key set it was bound to.
public struct KeySetFingerprint: Sendable, Hashable {
    /// `BLAKE2b-256(key = KDF(master, id 1, "veil-fpr"), message = "veil key-set fingerprint")`.
    public var master: [UInt8]
    /// The 32-byte Ed25519 audit public key.
    public var auditPublicKey: [UInt8]

    public init(master: [UInt8], auditPublicKey: [UInt8]) {
        self.master = master
        self.auditPublicKey = auditPublicKey
    }
}

/// The key set a data directory belongs to.
///
/// Contract: `bind` stores the fingerprint and seals `audit` in one transaction when none is stored;
/// when one is stored it changes nothing and throws `.conflict` unless it is the same.
public protocol KeySetStore: Sendable {
    func keySet() async throws -> KeySetFingerprint?
    func bind(_ fingerprint: KeySetFingerprint, audit: AuditDraft) async throws
}
