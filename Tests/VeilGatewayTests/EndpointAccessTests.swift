import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

/// Who may call each endpoint added after ingest: no token is 401, a role outside the endpoint's set is
/// 403 naming the roles, and nothing runs either way.
@Suite struct EndpointAccessTests {
    struct Endpoint: Sendable, CustomTestStringConvertible {
        let method: HTTPRequest.Method
        let uri: String
        let roles: [Role]
        let phrase: String

        var testDescription: String { "\(method) \(uri)" }
    }

    static let model = String(repeating: "ab", count: 16)
    static let readers = "the analyst, trainer, reviewer or auditor (or admin) role"
    static let endpoints: [Endpoint] = [
        Endpoint(method: .get, uri: "/v1/budget", roles: [.analyst, .reviewer, .auditor], phrase: "the analyst, reviewer or auditor (or admin) role"),
        Endpoint(method: .get, uri: "/v1/audit", roles: [.auditor], phrase: "the auditor (or admin) role"),
        Endpoint(method: .post, uri: "/v1/queries", roles: [.analyst], phrase: "the analyst (or admin) role"),
        Endpoint(method: .post, uri: "/v1/queries/explain", roles: [.analyst], phrase: "the analyst (or admin) role"),
        Endpoint(method: .get, uri: "/v1/models", roles: [.analyst, .trainer, .reviewer, .auditor], phrase: readers),
        Endpoint(method: .get, uri: "/v1/models/\(model)", roles: [.analyst, .trainer, .reviewer, .auditor], phrase: readers),
        Endpoint(method: .post, uri: "/v1/models/\(model)/approve", roles: [.reviewer], phrase: "the reviewer (or admin) role"),
        Endpoint(method: .post, uri: "/v1/models/\(model)/reject", roles: [.reviewer], phrase: "the reviewer (or admin) role"),
        Endpoint(method: .post, uri: "/v1/models/\(model)/revoke", roles: [.reviewer], phrase: "the reviewer (or admin) role"),
        Endpoint(method: .post, uri: "/v1/training-runs", roles: [.trainer], phrase: "the trainer (or admin) role"),
        Endpoint(method: .get, uri: "/v1/training-runs/some-run", roles: [.trainer], phrase: "the trainer (or admin) role"),
        Endpoint(method: .post, uri: "/v1/predict", roles: [.analyst], phrase: "the analyst (or admin) role"),
        Endpoint(method: .post, uri: "/v1/recommendations", roles: [.analyst], phrase: "the analyst (or admin) role"),
        Endpoint(method: .get, uri: "/v1/stats", roles: [], phrase: "the admin role"),
    ]

    @Test(arguments: endpoints)
    func noTokenIs401AndOtherRolesAre403(endpoint: Endpoint) async throws {
        let gateway = try await TestGateway.make()
        let forbidden = Role.allCases.filter { $0 != .admin && !endpoint.roles.contains($0) }
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: endpoint.uri, method: endpoint.method, body: json("{}")) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body) == AuthTests.unauthorizedBody)
            }
            for role in forbidden {
                try await client.execute(uri: endpoint.uri, method: endpoint.method, headers: gateway.headers(role), body: json("{}")) {
                    response in
                    #expect(response.status == .forbidden, "\(role)")
                    #expect(
                        String(buffer: response.body)
                            == #"{"error":"forbidden","message":"this endpoint requires a token with \#(endpoint.phrase)"}"#)
                }
            }
            for role in endpoint.roles + [.admin] {
                try await client.execute(uri: endpoint.uri, method: endpoint.method, headers: gateway.headers(role), body: json("{}")) {
                    response in
                    #expect(response.status != .unauthorized && response.status != .forbidden, "\(role)")
                }
            }
        }
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }

    @Test func forbiddenMessagesNameEveryRoleInRoleOrder() {
        #expect(
            String(describing: APIError.forbidden(requires: [.auditor, .analyst]).body)
                .contains("the analyst or auditor (or admin) role"))
        #expect(String(describing: APIError.forbidden(requires: [.admin]).body).contains("the admin role"))
    }
}
