import Hummingbird
import Logging
import VeilCore

/// Turns every error thrown below it into an `APIError` response, so each error has the documented
/// JSON body. A 500 or 503 is logged on the server: the error's type, and for a `VeilError` its
/// message and `cause` (files, operations and result codes, never data); the client gets the generic
/// body, no server path or internal detail.
struct ErrorResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status == .internalServerError || apiError.status == .serviceUnavailable {
                var metadata: Logger.Metadata = ["error.type": .string(String(reflecting: type(of: error)))]
                if let error = error as? VeilError {
                    // Veil's own messages name files and rules, never data ("the disk holding … is full").
                    metadata["error.message"] = .string(error.description)
                    if let cause = error.cause { metadata["error.cause"] = .string(cause) }
                }
                context.logger.log(level: apiError.status == .internalServerError ? .error : .warning, "request failed", metadata: metadata)
            }
            return try apiError.response(from: request, context: context)
        }
    }
}
