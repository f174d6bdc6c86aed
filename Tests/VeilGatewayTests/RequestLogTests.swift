import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

@Suite struct RequestLogTests {
    @Test func requestLogsHoldRouteTemplatesButNoTokenBodyQueryOrRawID() async throws {
        let gateway = try await TestGateway.make()
        let secretUser = "raw-user-7f3a@example.com"
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/events?trace=query-secret-1", method: .post,
                headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 2, prefix: "body-secret", user: secretUser))
            try await client.execute(
                uri: "/v1/subjects/\(secretUser)", method: .delete, headers: gateway.headers(.admin))
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.analyst, contentType: "application/x-ndjson"),
                body: ndjson(count: 1, prefix: "body-secret", user: secretUser))
        }
        let lines = gateway.logs.lines.filter { $0.contains(" request ") }
        #expect(lines.count == 3)
        #expect(lines.contains { $0.contains("http.route=/v1/events") && $0.contains("http.status=200") && $0.contains("http.method=POST") })
        #expect(lines.contains { $0.contains("http.route=/v1/subjects/{user_id}") && $0.contains("http.status=200") })
        #expect(lines.contains { $0.contains("http.status=403") })
        #expect(lines.allSatisfy { $0.contains("duration_ms=") })

        let forbidden = [secretUser, "raw-user", "body-secret", "query-secret", "event_id", "Bearer"] + gateway.token.values
        for line in gateway.logs.lines {
            for value in forbidden {
                #expect(!line.contains(value), "a log line contains \(value.prefix(12))…")
            }
        }
    }
}
