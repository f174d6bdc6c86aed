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
/// Opening loads and validates the keys and the policy, opens (migrating) the database and the audit
/// log, and — when the policy's hash differs from the last one recorded — writes a `policy.load`
/// audit record with the new hash, so the log shows every policy in force.
public final class VeilContext: Sendable {
    public let keys: KeyRing
    public let policy: LoadedPolicy
    public let dataDirectory: String
    public let database: VeilDatabase
    public let audit: AuditLog
    public let events: SQLiteEventStore
    public let budget: BudgetService
    public let models: ModelRegistry
    public let tokens: TokenService
    /// The one clock every use case built here reads.
    public let clock: WallClock

    public convenience init(
        keysDirectory: String, dataDirectory: String, databaseURL: DatabaseURL = .sqlite, policyPath: String, actor: String,
        clock: WallClock = .system
    ) throws {
        try self.init(
            keysDirectory: keysDirectory, dataDirectory: dataDirectory, databaseURL: databaseURL,
            policy: try PolicyLoader.load(path: policyPath), actor: actor, clock: clock)
    }

    /// Opens the context under an already loaded policy (benchmarks and tests pass the built-in one).
    ///
    /// `databaseURL` says where the store lives. Only SQLite serves the use cases so far: with a
    /// PostgreSQL URL this throws, naming what works (`veil db migrate|status`), until the stores are
    /// backend-neutral (issue 13, phase 2).
    public init(
        keysDirectory: String, dataDirectory: String, databaseURL: DatabaseURL = .sqlite, policy: LoadedPolicy, actor: String,
        clock: WallClock = .system
    ) throws {
        if case .postgres(let location) = databaseURL {
            throw VeilError(
                .unavailable, field: DatabaseURL.field,
                "\(location) is a PostgreSQL database; this build runs only `veil db migrate` and `veil db status` on PostgreSQL, every other command on SQLite (leave --database-url and VEIL_DATABASE_URL unset)")
        }
        keys = try KeyRing.load(directory: keysDirectory)
        self.policy = policy
        self.dataDirectory = dataDirectory
        self.clock = clock
        database = try VeilDatabase(directory: dataDirectory)
        audit = try AuditLog(dataDirectory: dataDirectory, signingKey: keys.auditSigningKey, clock: clock)
        events = SQLiteEventStore(database: database)
        budget = BudgetService(policy: policy.policy, store: SQLiteLedgerStore(database: database), audit: audit, clock: clock)
        models = ModelRegistry(
            dataDirectory: dataDirectory, store: SQLiteModelStore(database: database), audit: audit, clock: clock)
        tokens = TokenService(store: SQLiteTokenStore(database: database), master: keys.master, audit: audit, clock: clock)
        try recordPolicyIfChanged(actor: actor)
    }

    /// The ingest pipeline (validate → minimise → pseudonymise → escrow → store) under this policy,
    /// auditing each committed batch.
    public func ingestPipeline() -> IngestService {
        IngestService(store: events, keys: keys, policy: policy.policy, audit: audit, clock: clock)
    }

    /// Erasure of a data subject (audited).
    public func subjectEraser() -> SubjectService {
        SubjectService(store: events, keys: keys, audit: audit)
    }

    /// Re-identification of a pseudonym; needs the escrow secret key, which is kept off the serving host.
    public func reidentifier(escrowSecret: EscrowSecretKey) -> Reidentifier {
        Reidentifier(vault: events, escrowSecret: escrowSecret, audit: audit)
    }

    /// Differentially private aggregate queries over the stored events, paid from the ledger.
    public func queryService() -> QueryService {
        QueryService(policy: policy.policy, events: events, budget: budget, audit: audit)
    }

    /// Training over this context's store, ledger, registry and audit log.
    public func trainingService() -> TrainingService {
        TrainingService(
            policy: policy, master: keys.master, events: events, vault: events, budget: budget, models: models, audit: audit,
            clock: clock)
    }

    /// Background training runs (`POST /v1/training-runs`) over `trainingService()`.
    public func trainingRuns() -> TrainingRuns {
        TrainingRuns(trainer: trainingService())
    }

    /// Predictions from the approved models, from this context's events.
    public func predictionService() -> PredictionService {
        PredictionService(
            pseudonymizer: keys.userPseudonymizer, events: events, models: models, audit: audit, clock: clock)
    }

    /// The audit log as auditors fetch it.
    public func auditExport() -> AuditExport {
        AuditExport(dataDirectory: dataDirectory)
    }

    private func recordPolicyIfChanged(actor: String) throws {
        let settings = SQLiteSettingsStore(database: database)
        guard try settings.value(for: "policy_hash") != policy.hash else { return }
        try audit.record(
            actor: actor, action: .policyLoad,
            details: ["policy_hash": .string(policy.hash), "path": .string(policy.path), "dataset": .string(policy.policy.dataset)])
        try settings.set(policy.hash, for: "policy_hash")
    }
}
