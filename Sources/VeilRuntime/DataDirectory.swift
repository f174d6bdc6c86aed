import Foundation
import Synchronization
import VeilAudit
import VeilCore
import VeilCrypto
import VeilLedger
import VeilStore

/// Opening a data directory: the stores, the audit chain's mirror, and the checks that run before
/// anything is read or written (crash-contract.md §2–4), in this order:
/// 1. the stores (migrated), sealing with the audit key when the caller holds it;
/// 2. the key set: a directory bound to another key set is refused, naming the key file;
/// 3. a directory made before the chain lived in the store imports its `audit.log` once;
/// 4. the mirror is reconciled with the store: a database behind the log, or telling another story,
///    is refused; otherwise the mirror gets the records it lacks;
/// 5. (with the master key) a directory bound to no key set yet is bound to this one (`key.bind`).
public struct OpenedDataDirectory: Sendable {
    public let directory: String
    public let stores: StoreSet
    public let mirror: AuditMirrorSync

    /// Opens `directory` for a process holding the whole key set (every command but the auditor's).
    public static func open(directory: String, keys: KeyRing, clock: WallClock, actor: String) async throws -> OpenedDataDirectory {
        let opened = try await openUnchecked(
            directory: directory, sealer: AuditSigner(signingKey: keys.auditSigningKey, clock: clock),
            publicKey: keys.auditSigningKey.publicKey)
        try await KeySetBinding.check(keys, stores: opened.stores)
        try await opened.reconcile(publicKey: keys.auditSigningKey.publicKey)
        try await KeySetBinding.bind(keys, stores: opened.stores, actor: actor)
        return opened
    }

    /// Opens `directory` for an auditor holding only the audit public key (read at `keyPath`): nothing
    /// can be sealed; the checks run all the same. A directory without a database is `.notFound`.
    public static func open(directory: String, auditPublicKey: SigningPublicKey, keyPath: String) async throws
        -> OpenedDataDirectory
    {
        guard StoreFactory.exists(.dataDirectory(directory)) else {
            throw VeilError(.notFound, field: directory, "holds no Veil database; check --data-dir (or verify a file with --file)")
        }
        let opened = try await openUnchecked(directory: directory, sealer: nil, publicKey: auditPublicKey)
        try await KeySetBinding.check(auditPublicKey: auditPublicKey, keyPath: keyPath, stores: opened.stores)
        try await opened.reconcile(publicKey: auditPublicKey)
        return opened
    }

    /// `veil db recover`: rebuilds the chain and the ledger of a database behind its `audit.log` from
    /// the log (verified with the key set's audit key), then opens the directory as `open` does.
    public static func recover(directory: String, keys: KeyRing, clock: WallClock, actor: String) async throws
        -> (ChainRecovery.Report, OpenedDataDirectory)
    {
        let opened = try await openUnchecked(
            directory: directory, sealer: AuditSigner(signingKey: keys.auditSigningKey, clock: clock),
            publicKey: keys.auditSigningKey.publicKey)
        try await KeySetBinding.check(keys, stores: opened.stores)
        _ = try await LegacyChainImport.runIfPending(
            stores: opened.stores, mirrorPath: opened.mirror.path, publicKey: keys.auditSigningKey.publicKey)
        let report = try await ChainRecovery.recover(stores: opened.stores, mirrorPath: opened.mirror.path, keys: keys)
        try await opened.reconcile(publicKey: keys.auditSigningKey.publicKey)
        try await KeySetBinding.bind(keys, stores: opened.stores, actor: actor)
        return (report, opened)
    }

    /// Waits until the mirror holds every committed record (commands call it before they exit; the
    /// server on shutdown). Returns why it could not, if it could not: the next open catches up.
    @discardableResult
    public func close() async -> VeilError? { await mirror.drain() }

    private func reconcile(publicKey: SigningPublicKey) async throws {
        _ = try await LegacyChainImport.runIfPending(stores: stores, mirrorPath: mirror.path, publicKey: publicKey)
        try await mirror.reconcile()
    }

    /// The stores and the mirror, wired so that every commit that adds records schedules a catch-up.
    private static func openUnchecked(directory: String, sealer: (any AuditSealer)?, publicKey: SigningPublicKey) async throws
        -> OpenedDataDirectory
    {
        let mirrorSync = MirrorReference()
        let configuration = StoreConfiguration(sealer: sealer) { mirrorSync.scheduleCatchUp() }
        let stores = try await StoreFactory.open(.dataDirectory(directory), configuration: configuration)
        let mirror = AuditMirrorSync(
            mirror: try AuditMirror(path: AuditMirror.path(dataDirectory: directory), publicKey: publicKey),
            chain: stores.audit, storeLocation: stores.location)
        mirrorSync.set(mirror)
        return OpenedDataDirectory(directory: directory, stores: stores, mirror: mirror)
    }
}

/// The mirror the store's commit observer reaches, set once the mirror exists (the store is opened
/// first). Held weakly: the mirror holds the store, and the store holds this.
private final class MirrorReference: Sendable {
    private struct Weak: @unchecked Sendable {
        weak var mirror: AuditMirrorSync?
    }

    private let reference = Mutex(Weak())

    func set(_ value: AuditMirrorSync) { reference.withLock { $0.mirror = value } }

    func scheduleCatchUp() { reference.withLock { $0.mirror }?.scheduleCatchUp() }
}
