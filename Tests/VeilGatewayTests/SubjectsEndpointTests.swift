import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

/// `DELETE /v1/subjects/{user_id}` over the real `SubjectService` and SQLite store: events are
/// ingested first, and the test checks what the store still holds afterwards.
@Suite struct SubjectsEndpointTests {
    @Test func adminErasesAPercentEncodedUserIDAndOnlyThatUser() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ndjsonText(count: 3, prefix: "a", user: "alice@example.com"))
        try await gateway.ingest(ndjsonText(count: 2, prefix: "b", user: "bob@example.com"))
        let alice = gateway.pseudonym("alice@example.com").hex
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/alice%40example.com", method: .delete, headers: gateway.headers(.admin)) {
                response in
                #expect(response.status == .ok)
                #expect(
                    String(buffer: response.body)
                        == #"{"epoch":\#(gateway.context.keys.epoch),"events_deleted":3,"pseudonym":"\#(alice)","vault_rows_deleted":1}"#)
            }
        }
        #expect(try await gateway.storedEvents(of: "alice@example.com").isEmpty)
        #expect(try await gateway.context.stores.vault.identity(for: gateway.pseudonym("alice@example.com")) == nil)
        #expect(try await gateway.storedEvents(of: "bob@example.com").count == 2)
        let record = try await gateway.lastAuditRecord()
        #expect(record["actor"] as? String == "test-admin")
        #expect(record["action"] as? String == "subject.erase")
        #expect((record["details"] as? [String: Any])?["pseudonym"] as? String == alice)
    }

    @Test func slashInAnEncodedUserIDStaysInTheID() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ndjsonText(count: 2, user: "shop/42"))
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/shop%2F42", method: .delete, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .ok)
                #expect(object(response.body)["events_deleted"] as? Int == 2)
            }
        }
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func unknownUserIsErasedWithZeroCounts() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/nobody", method: .delete, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .ok)
                #expect(object(response.body)["events_deleted"] as? Int == 0)
                #expect(object(response.body)["vault_rows_deleted"] as? Int == 0)
            }
        }
    }

    @Test(arguments: [Role.ingest, .analyst, .auditor])
    func nonAdminIs403(role: Role) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ndjsonText(count: 2, user: "alice"))
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/subjects/alice", method: .delete, headers: gateway.headers(role)) { response in
                #expect(response.status == .forbidden)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"forbidden","message":"this endpoint requires a token with the admin role"}"#)
            }
        }
        #expect(try await gateway.storedEvents(of: "alice").count == 2)
    }
}
