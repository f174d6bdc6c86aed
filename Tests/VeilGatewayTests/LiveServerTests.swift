import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
import VeilRuntime
@testable import VeilGateway

/// End to end over a real socket on 127.0.0.1 (a free port).
@Suite struct LiveServerTests {
    @Test func liveServerIngestsChecksTokensAndServesHealthAndMetrics() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(nil, contentType: "application/x-ndjson"),
                body: ndjson(count: 1)
            ) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 1000)
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"accepted":1000,"duplicates":0}"#)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains("veil_events_accepted_total 1000\n"))
            }
        }
    }

    @Test func liveServerRefusesAnOversizedBodyWith413() async throws {
        var policy = Policy()
        policy.ingest.maxBodyBytes = 1024
        let gateway = try await TestGateway.make(policy: policy)
        try await gateway.application().test(.live) { client in
            try await client.execute(
                uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: "application/x-ndjson"),
                body: ndjson(count: 200)
            ) { response in
                #expect(response.status == .contentTooLarge)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"too_large","message":"the request body is larger than 1024 bytes (policy ingest.max_body_bytes); send smaller batches"}"#
                )
            }
        }
    }

    @Test func liveServerAnswersTheBudgetToAnAuditorAndRefusesAnIngestToken() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 20))
        _ = try await gateway.context.queryService().run(
            .init(metric: "count_events", epsilon: 0.5), principal: "test-analyst", role: .analyst)
        let expected = try await gateway.budgetStatusJSON()
        try await gateway.application().test(.live) { client in
            try await client.execute(uri: "/v1/budget", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == expected)
                #expect((object(response.body)["spends"] as? [Any])?.count == 1)
            }
            try await client.execute(uri: "/v1/budget", method: .get, headers: gateway.headers(.ingest)) { response in
                #expect(response.status == .forbidden)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"forbidden","message":"this endpoint requires a token with the analyst, reviewer or auditor (or admin) role"}"#)
            }
        }
    }
}
