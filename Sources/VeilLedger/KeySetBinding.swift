import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore

/// A data directory belongs to one key set (crash-contract.md §4): the store keeps the key set's
/// fingerprint — a keyed hash derived from the master key, and the audit public key — from its first
/// open, and every later open with another `master.key` or another audit key is refused, naming the
/// file, before anything is read or written.
public enum KeySetBinding {
    /// The fingerprint of `keys`.
    public static func fingerprint(of keys: KeyRing) -> KeySetFingerprint {
        KeySetFingerprint(master: keys.masterFingerprint, auditPublicKey: keys.auditSigningKey.publicKey.bytes)
    }

    /// The audit details that name a fingerprint (`key.init`, `key.bind`).
    static func details(_ fingerprint: KeySetFingerprint) -> [String: JSONValue] {
        [
            "master_fingerprint": .string(Hex.encode(fingerprint.master)),
            "audit_public_key": .string(Data(fingerprint.auditPublicKey).base64EncodedString()),
        ]
    }

    /// Refuses a key set other than the one the store is bound to, naming the key file; reads only.
    /// Returns false when the store is bound to no key set yet.
    @discardableResult
    public static func check(_ keys: KeyRing, stores: StoreSet) async throws -> Bool {
        guard let bound = try await stores.keySet.keySet() else { return false }
        try refuse(keys, unlessItIs: bound, location: stores.location)
        return true
    }

    /// Refuses `keys` when the chain `bodies` (a log about to be adopted, by `veil db recover`) records
    /// another key set in its last `key.init` or `key.bind` record, naming the key file as `check`
    /// does. A chain that records no fingerprint (one started before the binding existed) is not checked.
    static func check(_ keys: KeyRing, recordedIn bodies: [AuditBody], location: String) throws {
        guard let recorded = recorded(in: bodies) else { return }
        try refuse(keys, unlessItIs: recorded, location: location)
    }

    /// The key set named by the last `key.init` or `key.bind` record of `bodies` that names one.
    static func recorded(in bodies: [AuditBody]) -> KeySetFingerprint? {
        let binding = [AuditAction.keyInit.rawValue, AuditAction.keyBind.rawValue]
        for body in bodies.reversed() where binding.contains(body.action) {
            guard case .string(let master)? = body.details["master_fingerprint"], let masterBytes = Hex.decode(master),
                case .string(let audit)? = body.details["audit_public_key"], let auditBytes = Data(base64Encoded: audit)
            else { continue }
            return KeySetFingerprint(master: masterBytes, auditPublicKey: [UInt8](auditBytes))
        }
        return nil
    }

    private static func refuse(_ keys: KeyRing, unlessItIs bound: KeySetFingerprint, location: String) throws {
        let expected = fingerprint(of: keys)
        if bound.master != expected.master {
            throw VeilError(
                .keyFile, field: (keys.directory as NSString).appendingPathComponent(KeyFile.master.rawValue),
                "is not the master key of this data directory (\(location)): the data directory belongs to another key set. Nothing was read or written; use the key directory it was created with")
        }
        if bound.auditPublicKey != expected.auditPublicKey {
            let directory = keys.directory as NSString
            throw VeilError(
                .keyFile,
                field: "\(directory.appendingPathComponent(KeyFile.auditPublic.rawValue)), \(directory.appendingPathComponent(KeyFile.auditSecret.rawValue))",
                "are not the audit keys of this data directory (\(location)): the data directory belongs to another key set, and its chain could not be verified or continued. Nothing was read or written; use the key directory it was created with")
        }
    }

    /// Binds a store that has no key set yet to `keys`: a new store's chain starts with `key.init`
    /// (epoch, both public keys, the fingerprint); a store made before the binding existed records
    /// `key.bind`. A bound store is checked instead.
    public static func bind(_ keys: KeyRing, stores: StoreSet, actor: String) async throws {
        guard try await !check(keys, stores: stores) else { return }
        let fingerprint = fingerprint(of: keys)
        let draft: AuditDraft
        if try await stores.audit.head().seq == 0 {
            draft = AuditDraft(
                actor: actor, action: .keyInit,
                details: details(fingerprint).merging([
                    "epoch": .int(Int64(keys.epoch)),
                    "escrow_public_key": .string(Data(keys.escrowPublicKey.bytes).base64EncodedString()),
                ]) { _, new in new })
        } else {
            draft = AuditDraft(actor: actor, action: .keyBind, details: details(fingerprint))
        }
        try await stores.keySet.bind(fingerprint, audit: draft)
    }

    /// Refuses an audit public key other than the bound one (for commands that hold only `audit.pub`).
    public static func check(auditPublicKey: SigningPublicKey, keyPath: String, stores: StoreSet) async throws {
        guard let bound = try await stores.keySet.keySet(), bound.auditPublicKey != auditPublicKey.bytes else { return }
        throw VeilError(
            .keyFile, field: keyPath,
            "is not the audit public key of this data directory (\(stores.location)): the data directory belongs to another key set")
    }
}
