import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

@Suite struct SubjectsEndpointTests {
    @Test func adminErasesAPercentEncodedUserID() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/alice%40example.com", method: .delete, headers: gateway.headers(.admin)) {
                response in
                #expect(response.status == .ok)
                #expect(
                    String(buffer: response.body)
                        == #"{"epoch":1,"events_deleted":3,"pseudonym":"abababababababababababababababab","vault_rows_deleted":1}"#)
            }
        }
        let erased = await gateway.eraser.erased
        #expect(erased.map(\.userID) == ["alice@example.com"])
        #expect(erased.map(\.actor) == ["test-admin"])
    }

    @Test func slashInAnEncodedUserIDStaysInTheID() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/shop%2F42", method: .delete, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(await gateway.eraser.erased.map(\.userID) == ["shop/42"])
    }

    @Test(arguments: [Role.ingest, .analyst, .auditor])
    func nonAdminIs403(role: Role) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/alice", method: .delete, headers: gateway.headers(role)) { response in
                #expect(response.status == .forbidden)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"forbidden","message":"this endpoint requires a token with the admin role"}"#)
            }
        }
        #expect(await gateway.eraser.erased.isEmpty)
    }
}
