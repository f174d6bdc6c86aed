import Hummingbird

/// Unauthenticated operational endpoints: `GET /healthz`, `GET /metrics` and `GET /openapi.json` (the
/// API's description, `docs/openapi.yaml`, which is public).
///
/// `/metrics` needs no token on purpose: a Prometheus scraper should not hold a token that could also
/// call other endpoints (the only role that reaches everything is `admin`, which can erase subjects),
/// and the exposition holds only aggregate counters, gauges and latencies labelled by route template,
/// method, status, task, state and dataset — never an ID, a token or a body. Keep the port off the
/// public network.
struct OperationsController {
    let metrics: GatewayMetrics
    /// Read at each scrape for the state gauges (`GatewayMetrics.refresh`).
    let services: GatewayServices

    func addRoutes(to router: Router<VeilRequestContext>) {
        router.get("healthz", use: health)
        router.get("metrics", use: exposition)
        router.get("openapi.json", use: openAPI)
    }

    @Sendable func health(request: Request, context: VeilRequestContext) async throws -> Response {
        try JSONBody.response(["status": "ok"])
    }

    @Sendable func openAPI(request: Request, context: VeilRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
    }

    @Sendable func exposition(request: Request, context: VeilRequestContext) async throws -> Response {
        try await metrics.refresh(budget: services.budget, models: services.models, runs: services.trainingRuns)
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
    }
}
