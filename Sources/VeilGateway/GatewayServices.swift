import VeilCore
import VeilCrypto
import VeilAccess
import VeilLedger
import VeilIngest
import VeilModels
import VeilQueries
import VeilRuntime

/// The service-layer use cases the HTTP API exposes, one property per use case.
///
/// Ingest, erasure and authentication are protocols (the `http_gateway_only` benchmark swaps in an
/// ingestor that stores nothing; HTTP tests run the real services and inject faults at the store);
/// the other use cases are the service types themselves, tested over a real context, and optional:
/// one left nil leaves its endpoints unregistered (404), so a benchmark or test of ingest alone
/// passes only the first three. `init(context:)` sets them all. To add an endpoint: add its use case
/// here, write one controller, and register it in `buildRouter`.
public struct GatewayServices: Sendable {
    /// `POST /v1/events`.
    public var ingestor: any EventIngesting
    /// `DELETE /v1/subjects/{user_id}`.
    public var eraser: any SubjectErasing
    /// Bearer-token checks for every authenticated endpoint.
    public var authenticator: any TokenAuthenticating
    /// `GET /v1/budget`.
    public var budget: BudgetService?
    /// `GET /v1/audit`.
    public var audit: AuditExport?
    /// `GET /v1/audit/status`: the chain verified server-side with the audit public key.
    public var auditVerification: AuditVerificationSource?
    /// `POST /v1/queries`.
    public var queries: QueryService?
    /// `/v1/models...`.
    public var models: ModelRegistry?
    /// `/v1/training-runs...`.
    public var trainingRuns: TrainingRuns?
    /// `POST /v1/predict`.
    public var predictor: PredictionService?
    /// `GET /v1/stats` (role admin).
    public var statistics: OperatorStatistics?

    public init(
        ingestor: any EventIngesting, eraser: any SubjectErasing, authenticator: any TokenAuthenticating,
        budget: BudgetService? = nil, audit: AuditExport? = nil, auditVerification: AuditVerificationSource? = nil, queries: QueryService? = nil, models: ModelRegistry? = nil,
        trainingRuns: TrainingRuns? = nil, predictor: PredictionService? = nil, statistics: OperatorStatistics? = nil
    ) {
        self.ingestor = ingestor
        self.eraser = eraser
        self.authenticator = authenticator
        self.budget = budget
        self.audit = audit
        self.auditVerification = auditVerification
        self.queries = queries
        self.models = models
        self.trainingRuns = trainingRuns
        self.predictor = predictor
        self.statistics = statistics
    }

    /// Every use case over one opened context: what `veil serve` runs.
    public init(context: VeilContext) {
        self.init(
            ingestor: context.ingestPipeline(), eraser: context.subjectEraser(), authenticator: context.tokens,
            budget: context.budget, audit: context.auditExport(),
            auditVerification: AuditVerificationSource(service: context.auditService(), publicKey: context.keys.auditSigningKey.publicKey),
            queries: context.queryService(), models: context.models, trainingRuns: context.trainingRuns(),
            predictor: context.predictionService(), statistics: context.operatorStatistics())
    }
}

/// What `GET /v1/audit/status` verifies with: the chain's use cases and the audit public key.
public struct AuditVerificationSource: Sendable {
    public let service: AuditService
    public let publicKey: SigningPublicKey

    public init(service: AuditService, publicKey: SigningPublicKey) {
        self.service = service
        self.publicKey = publicKey
    }
}
