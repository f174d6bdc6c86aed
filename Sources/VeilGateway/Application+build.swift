import Hummingbird
import Logging
import VeilCore
import VeilService

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
/// mapping to JSON bodies (`APIError`). Authenticated groups add `RequireRoleMiddleware` for their
/// role. To add an endpoint: add its use case to `GatewayServices`, write a controller generic over
/// that protocol, and register it below under the group for its role.
public func buildRouter(services: GatewayServices, policy: Policy, metrics: GatewayMetrics) -> Router<VeilRequestContext> {
    let router = Router(context: VeilRequestContext.self)
    // Router middleware applies to routes added after it: add these first.
    router.add(middleware: RequestLogMiddleware(level: .info))
    router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
    router.add(middleware: ErrorResponseMiddleware())

    OperationsController(metrics: metrics).addRoutes(to: router)

    let v1 = router.group("v1")
    let authenticator = services.authenticator
    RouteRegistration.events(
        services.ingestor, maxBodyBytes: policy.ingest.maxBodyBytes, metrics: metrics,
        to: v1.group("events").add(middleware: RouteRegistration.requireRole(.ingest, authenticator)))
    RouteRegistration.subjects(
        services.eraser, to: v1.group("subjects").add(middleware: RouteRegistration.requireRole(.admin, authenticator)))
    return router
}

/// Generic helpers that open the existential services of `GatewayServices` for the generic controllers.
enum RouteRegistration {
    static func requireRole(_ role: Role, _ authenticator: some TokenAuthenticating) -> any MiddlewareProtocol<Request, Response, VeilRequestContext> {
        RequireRoleMiddleware(role: role, authenticator: authenticator)
    }

    static func events(_ ingestor: some EventIngesting, maxBodyBytes: Int, metrics: GatewayMetrics, to group: RouterGroup<VeilRequestContext>) {
        EventsController(ingestor: ingestor, maxBodyBytes: maxBodyBytes, metrics: metrics).addRoutes(to: group)
    }

    static func subjects(_ eraser: some SubjectErasing, to group: RouterGroup<VeilRequestContext>) {
        SubjectsController(eraser: eraser).addRoutes(to: group)
    }
}
