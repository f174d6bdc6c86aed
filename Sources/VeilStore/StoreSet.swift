import VeilCore

/// Every store of one deployment, opened together on one backend (`VeilRuntime`'s `StoreFactory`
/// chooses the backend from configuration). Use cases receive the stores they need from it.
public struct StoreSet: Sendable {
    public var events: any EventStore
    public var vault: any IdentityVault
    public var ledger: any LedgerStore
    public var models: any ModelStore
    public var artifacts: any ModelArtifactStore
    public var tokens: any TokenStore
    public var settings: any SettingsStore
    public var keySet: any KeySetStore
    public var audit: any AuditChainStore
    /// Where the stores live, for messages: a database file, or a server without its password.
    public var location: String

    public init(
        events: any EventStore, vault: any IdentityVault, ledger: any LedgerStore, models: any ModelStore,
        artifacts: any ModelArtifactStore, tokens: any TokenStore, settings: any SettingsStore, keySet: any KeySetStore,
        audit: any AuditChainStore, location: String
    ) {
        self.events = events
        self.vault = vault
        self.ledger = ledger
        self.models = models
        self.artifacts = artifacts
        self.tokens = tokens
        self.settings = settings
        self.keySet = keySet
        self.audit = audit
        self.location = location
    }
}

/// What a backend needs besides its location: how to seal audit records and whom to tell when some
/// were committed.
public struct StoreConfiguration: Sendable {
    /// Seals records inside write transactions; nil opens the stores for reading and for adopting
    /// records sealed elsewhere (an auditor with only the public key): a write that must seal a
    /// record then throws `.forbidden`.
    public var sealer: (any AuditSealer)?
    /// Called after every commit that added audit records (never inside a transaction).
    public var auditCommitted: @Sendable () -> Void

    public init(sealer: (any AuditSealer)?, auditCommitted: @escaping @Sendable () -> Void = {}) {
        self.sealer = sealer
        self.auditCommitted = auditCommitted
    }
}
