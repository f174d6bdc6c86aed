import Hummingbird

/// Turns every error thrown below it into an `APIError` response, so each error has the documented
/// JSON body. Unexpected errors are logged by type only (their description could hold request data).
struct ErrorResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status == .internalServerError {
                context.logger.error("request failed", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
            }
            return try apiError.response(from: request, context: context)
        }
    }
}
