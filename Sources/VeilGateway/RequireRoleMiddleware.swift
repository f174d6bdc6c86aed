import Foundation
import Hummingbird
import VeilCore
import VeilAccess

/// Guards a route group: the request must carry `Authorization: Bearer <token>` for a valid token
/// (else 401) whose role permits one of `roles` (else 403; `admin` is permitted everywhere). On
/// success the principal is put in the context for the handlers below.
struct RequireRoleMiddleware<Authenticator: TokenAuthenticating>: RouterMiddleware {
    typealias Context = VeilRequestContext

    /// The roles that may pass (any one of them; `admin` always may).
    let roles: Set<Role>
    let authenticator: Authenticator

    init(roles: Set<Role>, authenticator: Authenticator) {
        precondition(!roles.isEmpty, "a guarded group needs at least one role")
        self.roles = roles
        self.authenticator = authenticator
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = Self.bearerToken(request.headers[.authorization]),
            let principal = try await authenticator.authenticate(token: token)
        else { throw APIError.unauthorized }
        guard roles.contains(where: principal.role.permits) else { throw APIError.forbidden(requires: roles) }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or nil.
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
