import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
import VeilAccess
@testable import VeilGateway

@Suite struct AuthTests {
    static let unauthorizedBody =
        #"{"error":"unauthorized","message":"a valid bearer token is required: send `Authorization: Bearer <token>` (issue one with `veil tokens issue`)"}"#

    @Test(arguments: [
        nil, "Basic dXNlcjpwYXNz", "Bearer", "Bearer veil_", "Bearer veil_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer not-a-veil-token",
    ])
    func missingOrInvalidTokenIs401(authorization: String?) async throws {
        let gateway = try await TestGateway.make()
        var headers = gateway.headers(nil, contentType: "application/x-ndjson")
        if let authorization { headers[.authorization] = authorization }
        let request = headers
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/events", method: .post, headers: request, body: ndjson(count: 1)) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="veil""#)
                #expect(String(buffer: response.body) == Self.unauthorizedBody)
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func revokedTokenIs401() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.tokens.revoke(name: "test-ingest", actor: "test")
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 1)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body) == Self.unauthorizedBody)
            }
        }
    }

    @Test(arguments: [Role.analyst, .trainer, .reviewer, .auditor])
    func wrongRoleIs403(role: Role) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(role, contentType: "application/x-ndjson"),
                body: ndjson(count: 1)
            ) { response in
                #expect(response.status == .forbidden)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"forbidden","message":"this endpoint requires a token with the ingest (or admin) role"}"#)
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func bearerSchemeIsCaseInsensitive() {
        #expect(RequireRoleMiddleware<TokenServiceStub>.bearerToken("bearer abc") == "abc")
        #expect(RequireRoleMiddleware<TokenServiceStub>.bearerToken("BEARER  abc ") == "abc")
        #expect(RequireRoleMiddleware<TokenServiceStub>.bearerToken("Token abc") == nil)
    }
}

/// Only used to name a concrete `RequireRoleMiddleware` type in the header-parsing test.
struct TokenServiceStub: TokenAuthenticating {
    func authenticate(token: String) async throws -> Principal? { nil }
}
