import Foundation
import Hummingbird
import Logging
import VeilCore

/// The route template of a request for logs and metrics: `/v1/subjects/{user_id}`, never the path
/// that was sent (it may hold a raw ID or a query string). `unmatched` when no route matched — which
/// Hummingbird marks with no endpoint path or with its sentinel `NotFound` (templates start with `/`).
func routeTemplate(_ context: some RequestContext) -> String {
    guard let template = context.endpointPath, template.hasPrefix("/") else { return "unmatched" }
    return template
}

/// Logs one line per request: method, route template, status and duration. Never the path, the
/// query string, a header, a body or a parameter value.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, elapsed: ContinuousClock.now - start)
            return response
        } catch {
            log(request, context, status: APIError.from(error).status.code, elapsed: ContinuousClock.now - start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, elapsed: Duration) {
        context.logger.log(
            level: level, "request",
            metadata: [
                "http.method": .string(request.method.rawValue),
                "http.route": .string(routeTemplate(context)),
                "http.status": .stringConvertible(status),
                "duration_ms": .string(String(format: "%.3f", elapsed.milliseconds)),
            ])
    }
}

/// Records `veil_http_request_duration_seconds` for each request by route template, method and status.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(
            route: routeTemplate(context), method: request.method.rawValue, status: response.status.code,
            duration: ContinuousClock.now - start)
        return response
    }
}
