import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

@Suite struct OperationsEndpointTests {
    @Test func healthzNeedsNoToken() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
        }
    }

    @Test func unknownRouteIs404WithTheGeneralErrorBody() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/nothing-here?user=x", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body) == #"{"error":"not_found","message":"no such endpoint; docs/api.md lists them"}"#)
            }
        }
    }

    @Test func metricsCountAcceptedDuplicateAndRejectedEventsAndLatencyByRoute() async throws {
        let gateway = try await TestGateway.make()
        let ndjsonType = "application/x-ndjson"
        try await gateway.application().test(.router) { client in
            for body in [ndjson(count: 3), ndjson(count: 2), ByteBuffer(string: "{\"user_id\":\"u\"}\n{}\n")] {
                try await client.execute(
                    uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: ndjsonType), body: body)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains("veil_events_accepted_total 3\n"))
                #expect(text.contains("veil_events_duplicate_total 2\n"))
                #expect(text.contains("veil_events_rejected_total 2\n"))
                #expect(text.contains(#"veil_http_request_duration_seconds_count{route="/v1/events",method="POST",status="200"} 2"#))
                #expect(text.contains(#"veil_http_request_duration_seconds_count{route="/v1/events",method="POST",status="422"} 1"#))
            }
        }
    }

    /// The state gauges (budget, models, training runs) and the unmatched-route label, as docs/api.md
    /// lists them; a request that matched no route is labelled `unmatched`, never by its path.
    @Test func metricsShowTheBudgetModelsTrainingRunsAndUnmatchedRoutes() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 20))
        _ = try await gateway.context.queryService().run(
            .init(metric: "count_events", epsilon: 0.5), principal: "test-analyst", role: .analyst)
        let status = try await gateway.context.budget.status()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/no-such/alice@example.com?token=x", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                let dataset = status.dataset
                #expect(text.contains(#"veil_budget_epsilon_cap{dataset="\#(dataset)"} \#(status.totalEpsilon)"#), "\(text)")
                #expect(text.contains(#"veil_budget_epsilon_spent{dataset="\#(dataset)"} \#(status.spentEpsilon)"#))
                #expect(text.contains(#"veil_budget_epsilon_remaining{dataset="\#(dataset)"} \#(status.remainingEpsilon)"#))
                #expect(status.spentEpsilon > 0)
                for state in ["candidate", "approved", "rejected", "revoked"] {
                    #expect(text.contains(#"veil_models{state="\#(state)"} 0.0"#))
                }
                for state in ["running", "succeeded", "failed"] {
                    #expect(text.contains(#"veil_training_runs{state="\#(state)"} 0.0"#))
                }
                #expect(text.contains(#"veil_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"} 1"#), "\(text)")
                #expect(!text.contains("alice") && !text.contains("no-such") && !text.contains("token=x"))
            }
        }
    }

    @Test func metricsRegistriesAreNotShared() async throws {
        let first = GatewayMetrics()
        let second = GatewayMetrics()
        first.eventsAccepted.increment(by: Int64(5))
        #expect(first.exposition().contains("veil_events_accepted_total 5"))
        #expect(second.exposition().contains("veil_events_accepted_total 0"))
    }
}
