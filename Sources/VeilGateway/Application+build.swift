import Hummingbird
import Logging
import VeilCore
import VeilAccess
import VeilIngest

/// The Veil HTTP application: `buildRouter` behind a Hummingbird server bound to `configuration`.
///
/// `metrics` belongs to this application (pass your own to read it in a test); `logger` receives the
/// request log lines and server events.
public func buildApplication(
    configuration: GatewayConfiguration,
    services: GatewayServices,
    metrics: GatewayMetrics = GatewayMetrics(),
    logger: Logger = Logger(label: "veil.gateway")
) -> some ApplicationProtocol {
    let router = buildRouter(services: services, policy: configuration.policy, metrics: metrics)
    let host = configuration.host
    let port = configuration.port
    let onListening = configuration.onListening
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
        onServerRunning: { channel in await onListening(host, channel.localAddress?.port ?? port) },
        logger: logger
    )
}

/// The routes of the Veil API and their middleware.
///
/// Every request passes, outermost first: the request log, the latency histogram, and the error
/// mapping to JSON bodies (`APIError`). Authenticated groups add `RequireRoleMiddleware` for the
/// roles that may call them (`AccessRules`; `admin` always may). `/console` serves the web console's
/// files, which hold no data: every page reads the API with the signed-in token. To add an endpoint: add its use case to
/// `GatewayServices`, write a controller, and register it below under a group guarded by its roles.
public func buildRouter(services: GatewayServices, policy: Policy, metrics: GatewayMetrics) -> Router<VeilRequestContext> {
    let router = Router(context: VeilRequestContext.self)
    // Router middleware applies to routes added after it: add these first.
    router.add(middleware: RequestLogMiddleware(level: .info))
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: ErrorResponseMiddleware())

    OperationsController(metrics: metrics, services: services).addRoutes(to: router)
    ConsoleController().addRoutes(to: router)

    let v1 = router.group("v1")
    let guarded = RouteRegistration.Guard(authenticator: services.authenticator, v1: v1)
    SessionController().addRoutes(to: guarded.group("session", Role.allCases))
    RouteRegistration.events(
        services.ingestor, maxBodyBytes: policy.ingest.maxBodyBytes, metrics: metrics, to: guarded.group("events", .events))
    RouteRegistration.subjects(services.eraser, to: guarded.group("subjects", .subjects))
    if let budget = services.budget {
        BudgetController(budget: budget).addRoutes(to: guarded.group("budget", .budget))
    }
    if let audit = services.audit {
        AuditController(export: audit, verification: services.auditVerification).addRoutes(to: guarded.group("audit", .audit))
    }
    if let queries = services.queries {
        QueriesController(queries: queries).addRoutes(to: guarded.group("queries", .queries))
    }
    if let registry = services.models {
        let models = ModelsController(models: registry, policy: policy)
        models.addReadRoutes(to: guarded.group("models", .models))
        models.addReviewRoutes(to: guarded.group("models", .review))
    }
    if let runs = services.trainingRuns {
        TrainingRunsController(runs: runs, policy: policy).addRoutes(to: guarded.group("training-runs", .training))
    }
    if let predictor = services.predictor {
        PredictController(predictor: predictor, metrics: metrics).addRoutes(to: guarded.group("predict", .predict))
        RecommendationsController(predictor: predictor, metrics: metrics).addRoutes(to: guarded.group("recommendations", .predict))
    }
    if let statistics = services.statistics {
        StatsController(statistics: statistics).addRoutes(to: guarded.group("stats", .stats))
    }
    RouteRegistration.answerOtherMethods(on: router)
    return router
}

/// Generic helpers that open the existential services of `GatewayServices` for the generic controllers.
enum RouteRegistration {
    /// Makes `/v1/<path>` groups guarded by a role check.
    struct Guard {
        let authenticator: any TokenAuthenticating
        let v1: RouterGroup<VeilRequestContext>

        /// The group `/v1/<path>` that only the roles of `area` (`AccessRules`; admin always) may call.
        func group(_ path: RouterPath, _ area: AccessRules.Area) -> RouterGroup<VeilRequestContext> {
            group(path, area.roles)
        }

        /// The group `/v1/<path>` that only tokens with one of `roles` (or admin) may call.
        func group(_ path: RouterPath, _ roles: some Collection<Role>) -> RouterGroup<VeilRequestContext> {
            v1.group(path).add(middleware: RouteRegistration.requireRole(Set(roles), authenticator))
        }
    }

    static func requireRole(_ roles: Set<Role>, _ authenticator: some TokenAuthenticating) -> any MiddlewareProtocol<Request, Response, VeilRequestContext> {
        RequireRoleMiddleware(roles: roles, authenticator: authenticator)
    }

    static func events(_ ingestor: some EventIngesting, maxBodyBytes: Int, metrics: GatewayMetrics, to group: RouterGroup<VeilRequestContext>) {
        EventsController(ingestor: ingestor, maxBodyBytes: maxBodyBytes, metrics: metrics).addRoutes(to: group)
    }

    static func subjects(_ eraser: some SubjectErasing, to group: RouterGroup<VeilRequestContext>) {
        SubjectsController(eraser: eraser).addRoutes(to: group)
    }

    /// Answers a request that matched no route with 405 and `Allow` when its path is one the router
    /// serves with other methods (any method, QUERY and custom ones too); call once, after every route
    /// is added. It wraps only the router's not-found answer, outside the role checks: which methods a
    /// path takes is public (`docs/openapi.yaml`).
    static func answerOtherMethods(on router: Router<VeilRequestContext>) {
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes.map { ($0.path.description, $0.method.rawValue) }))
    }
}
