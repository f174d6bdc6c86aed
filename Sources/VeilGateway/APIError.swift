import Hummingbird
import VeilCore
import VeilIngest

/// An HTTP error response of the Veil API. Every error has one of two bodies:
///
/// - `{"error": "<code>", "message": "<what is wrong and what to do>"}` — all statuses but 422;
/// - `{"errors": [{"field": "...", "index": i, "message": "..."}], "errors_not_shown": n, "summary": {...}}` —
///   422 for invalid events: the first `EventProblemsBody.maxListedProblems` problems by position, how many more there
///   are, and every problem grouped by rule (`ProblemSummary`, as `veil ingest` and `veil push` show it).
///
/// Messages name fields and rules, never values: they cannot carry a raw ID, a token or a body.
public struct APIError: HTTPResponseError, Sendable {
    /// The body an error response carries.
    public enum Body: Sendable, Equatable {
        case general(code: String, message: String)
        case eventProblems(BatchRejected)
    }

    public let status: HTTPResponse.Status
    public let body: Body
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`).
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.body = .general(code: code, message: message)
        self.headers = headers
    }

    public init(rejected: BatchRejected) {
        status = .unprocessableContent
        body = .eventProblems(rejected)
        headers = [:]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        switch body {
        case .general(let code, let message):
            return try JSONBody.response(GeneralBody(error: code, message: message), status: status, headers: headers)
        case .eventProblems(let rejected):
            return try JSONBody.response(EventProblemsBody(rejected), status: status, headers: headers)
        }
    }

    private struct GeneralBody: Encodable {
        let error: String
        let message: String
    }
}

extension APIError {
    /// 401: no token, a malformed one, an unknown one or a revoked one (indistinguishable on purpose).
    static let unauthorized = APIError(
        .unauthorized, code: "unauthorized",
        "a valid bearer token is required: send `Authorization: Bearer <token>` (issue one with `veil tokens issue`)",
        headers: [.wwwAuthenticate: #"Bearer realm="veil""#])

    /// 403: a valid token whose role may not call this endpoint, which any of `roles` may call.
    /// The roles are named in `Role.allCases` order: "the analyst or auditor (or admin) role".
    static func forbidden(requires roles: Set<Role>) -> APIError {
        let names = Role.allCases.filter { roles.contains($0) && $0 != .admin }.map(\.rawValue)
        let text: String
        switch names.count {
        case 0: text = "the admin role"
        case 1: text = "the \(names[0]) (or admin) role"
        default: text = "the \(names.dropLast().joined(separator: ", ")) or \(names.last!) (or admin) role"
        }
        return APIError(.forbidden, code: "forbidden", "this endpoint requires a token with \(text)")
    }

    /// 422: a field of a JSON request body breaks a rule. `message` starts with the field's name.
    static func unprocessable(_ message: String) -> APIError {
        APIError(.unprocessableContent, code: "invalid_input", message)
    }

    /// 405: the path exists but not with this method; `Allow` lists the methods it takes.
    static func methodNotAllowed(allow: [String]) -> APIError {
        APIError(
            .methodNotAllowed, code: "method_not_allowed", "this endpoint does not accept this method",
            headers: [.allow: allow.joined(separator: ", ")])
    }

    /// 503: a dependency cannot do its part now; the client should retry after a second.
    static let unavailable = APIError(
        .serviceUnavailable, code: "unavailable", "the service cannot complete this request right now; retry later",
        headers: [.retryAfter: "1"])

    /// 500: anything unexpected. Details go to the server log (by type only), never to the client.
    static let internalError = APIError(
        .internalServerError, code: "internal", "internal error; the server log has the details under this request")

    /// The API error for any error a handler or the service layer threw.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as BatchRejected:
            return APIError(rejected: error)
        case let error as VeilError:
            return from(error)
        case let error as any HTTPResponseError:
            return from(status: error.status)
        default:
            return internalError
        }
    }

    private static func from(_ error: VeilError) -> APIError {
        switch error.code {
        case .invalidInput: APIError(.badRequest, code: "invalid_input", error.description)
        case .notFound: APIError(.notFound, code: "not_found", error.description)
        case .alreadyExists: APIError(.conflict, code: "already_exists", error.description)
        case .conflict: APIError(.conflict, code: "conflict", error.description)
        case .forbidden: APIError(.forbidden, code: "forbidden", error.description)
        case .budgetExceeded: APIError(.forbidden, code: "budget_exceeded", error.description)
        case .tooLarge: APIError(.contentTooLarge, code: "too_large", error.description)
        case .unavailable: unavailable
        default: internalError
        }
    }

    /// Errors Hummingbird raises itself (no route, a body past a limit, a malformed request).
    private static func from(status: HTTPResponse.Status) -> APIError {
        switch status {
        case .notFound: APIError(.notFound, code: "not_found", "no such endpoint; docs/api.md lists them")
        case .methodNotAllowed: APIError(.methodNotAllowed, code: "method_not_allowed", "this endpoint does not accept this method")
        case .contentTooLarge: APIError(.contentTooLarge, code: "too_large", "the request body is larger than the server accepts")
        case .badRequest: APIError(.badRequest, code: "invalid_input", "the request is malformed")
        case .serviceUnavailable: unavailable
        default:
            status.code >= 500
                ? internalError
                : APIError(status, code: "http_\(status.code)", status.reasonPhrase)
        }
    }
}
