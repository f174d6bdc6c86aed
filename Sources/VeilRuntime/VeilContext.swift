import Foundation
import VeilAccess
import VeilAudit
import VeilCore
import VeilCrypto
import VeilIngest
import VeilLedger
import VeilModels
import VeilPolicy
import VeilQueries
import VeilStore

/// The composition root: everything a use case needs, opened once per process from the key directory,
/// the data directory and the policy file. Both faces (the CLI and the gateway) open one and take their
/// use cases from it; no rule lives here, only wiring.
///
/// Opening loads and validates the keys and the policy, opens the data directory (`OpenedDataDirectory`:
/// the stores, the key-set check, the audit chain's mirror reconciled), and — when the policy's hash
/// differs from the last one recorded — stores the new hash with a `policy.load` record in one
/// transaction, so the chain shows every policy in force. Call `close()` before the process ends: it
/// waits until `audit.log` mirrors every record.
public final class VeilContext: Sendable {
    public let keys: KeyRing
    public let policy: LoadedPolicy
    public let dataDirectory: String
    /// Every store, on the backend the configuration chose.
    public let stores: StoreSet
    /// `<data-dir>/audit.log`, kept up to date from the store.
    public let mirror: AuditMirrorSync
    public let budget: BudgetService
    public let models: ModelRegistry
    public let tokens: TokenService
    /// The one clock every use case built here reads.
    public let clock: WallClock

    /// The event store (and identity vault).
    public var events: any EventStore { stores.events }

    public static func open(
        keysDirectory: String, dataDirectory: String, databaseURL: DatabaseURL = .sqlite, policyPath: String, actor: String,
        clock: WallClock = .system
    ) async throws -> VeilContext {
        try await open(
            keysDirectory: keysDirectory, dataDirectory: dataDirectory, databaseURL: databaseURL,
            policy: try PolicyLoader.load(path: policyPath), actor: actor, clock: clock)
    }

    /// Opens the context under an already loaded policy (benchmarks and tests pass the built-in one).
    ///
    /// `databaseURL` says where the stores live (SQLite in the data directory, or a PostgreSQL database
    /// shared by replicas, each with a data directory of its own for its `audit.log` mirror).
    public static func open(
        keysDirectory: String, dataDirectory: String, databaseURL: DatabaseURL = .sqlite, policy: LoadedPolicy, actor: String,
        clock: WallClock = .system
    ) async throws -> VeilContext {
        let keys = try KeyRing.load(directory: keysDirectory)
        let opened = try await OpenedDataDirectory.open(
            directory: dataDirectory, database: databaseURL, keys: keys, clock: clock, actor: actor)
        let context = VeilContext(keys: keys, policy: policy, opened: opened, clock: clock)
        try await context.recordPolicyIfChanged(actor: actor)
        return context
    }

    private init(keys: KeyRing, policy: LoadedPolicy, opened: OpenedDataDirectory, clock: WallClock) {
        self.keys = keys
        self.policy = policy
        dataDirectory = opened.directory
        stores = opened.stores
        mirror = opened.mirror
        self.clock = clock
        budget = BudgetService(
            policy: policy.policy, policyHash: policy.hash, store: stores.ledger, audit: stores.audit, clock: clock)
        models = ModelRegistry(store: stores.models, artifacts: stores.artifacts, clock: clock)
        tokens = TokenService(store: stores.tokens, master: keys.master, clock: clock)
    }

    /// Waits until `audit.log` mirrors every committed record; returns why it could not, if it could
    /// not (the next open catches up).
    @discardableResult
    public func close() async -> VeilError? { await mirror.drain() }

    /// The ingest pipeline (validate → minimise → pseudonymise → escrow → store) under this policy,
    /// auditing each committed batch in its transaction.
    public func ingestPipeline() -> IngestService {
        IngestService(store: stores.events, keys: keys, policy: policy.policy, clock: clock)
    }

    /// Erasure of a data subject (audited).
    public func subjectEraser() -> SubjectService {
        SubjectService(store: stores.events, keys: keys)
    }

    /// Re-identification of a pseudonym; needs the escrow secret key, which is kept off the serving host.
    public func reidentifier(escrowSecret: EscrowSecretKey) -> Reidentifier {
        Reidentifier(vault: stores.vault, escrowSecret: escrowSecret, audit: stores.audit)
    }

    /// The operator's exact event statistics (audited on every read; not differentially private).
    public func operatorStatistics() -> OperatorStatistics {
        OperatorStatistics(events: stores.events, audit: stores.audit)
    }

    /// Differentially private aggregate queries over the stored events, paid from the ledger.
    public func queryService(pushDown: Bool = true) -> QueryService {
        QueryService(policy: policy.policy, events: stores.events, budget: budget, audit: stores.audit, pushDown: pushDown)
    }

    /// Training over this context's store, ledger, registry and audit chain.
    public func trainingService() -> TrainingService {
        TrainingService(
            policy: policy, master: keys.master, events: stores.events, vault: stores.vault, budget: budget, models: models,
            clock: clock, queries: queryService())
    }

    /// The empirical privacy audit on stored users (`veil privacy audit --stored`), paid like training.
    public func privacyAuditService() -> PrivacyAuditService {
        PrivacyAuditService(trainer: trainingService(), audit: stores.audit)
    }

    /// Background training runs (`POST /v1/training-runs`) over `trainingService()`.
    public func trainingRuns() -> TrainingRuns {
        TrainingRuns(trainer: trainingService())
    }

    /// Predictions from the approved models, from this context's events.
    public func predictionService() -> PredictionService {
        PredictionService(
            pseudonymizer: keys.userPseudonymizer, events: stores.events, models: models, audit: stores.audit, clock: clock)
    }

    /// The audit chain as auditors fetch it.
    public func auditExport() -> AuditExport {
        AuditExport(chain: stores.audit)
    }

    /// Verify, checkpoint and export of this data directory's chain.
    public func auditService() -> AuditService {
        AuditService(chain: stores.audit, ledger: stores.ledger, settings: stores.settings, mirrorPath: mirror.path, clock: clock)
    }

    private func recordPolicyIfChanged(actor: String) async throws {
        guard try await stores.settings.value(for: SettingKey.policyHash) != policy.hash else { return }
        try await stores.settings.set(
            policy.hash, for: SettingKey.policyHash,
            audit: AuditDraft(
                actor: actor, action: .policyLoad,
                details: [
                    "policy_hash": .string(policy.hash), "path": .string(policy.path), "dataset": .string(policy.policy.dataset),
                ]))
    }
}
