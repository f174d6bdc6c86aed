import Hummingbird
import VeilCore

/// `GET /v1/session`: who the bearer token is — its name, its role and the API areas that role may use
/// (`AccessRules`) — so the console shows only the pages the token can read. Any valid token may ask;
/// the answer holds no token secret.
struct SessionController {
    struct Session: Encodable {
        let name: String
        let role: Role
        let areas: [AccessRules.Area]
    }

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: show)
    }

    @Sendable func show(request: Request, context: VeilRequestContext) async throws -> Response {
        guard let principal = context.principal else { throw APIError.unauthorized }
        return try JSONBody.response(Session(name: principal.name, role: principal.role, areas: AccessRules.areas(for: principal.role)))
    }
}
