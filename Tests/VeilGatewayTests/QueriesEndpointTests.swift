import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

@Suite struct QueriesEndpointTests {
    @Test func analystQueryIsAnsweredAndChargedToTheTokenName() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 30))
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst, contentType: "application/json"),
                body: json(#"{"metric":"count_users","group_by":"category","where":"type=view","epsilon":1}"#)
            ) { response in
                #expect(response.status == .ok)
                let answer = object(response.body)
                #expect(answer["mechanism"] as? String == "laplace")
                #expect((answer["query"] as? [String: Any])?["group_by"] as? String == "category")
                #expect((answer["groups"] as? [Any])?.count == ShopperEvents.categories.count)
                #expect((answer["budget"] as? [String: Any])?["spend_id"] as? Int == 1)
            }
        }
        let spends = try await gateway.context.budget.status().spends
        #expect(spends.map(\.principal) == ["test-analyst"])
        #expect(spends.map(\.role) == ["analyst"])
    }

    @Test func explainStatesNoiseAndWarningsAndSpendsNothing() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 30))
        let before = try await gateway.context.budget.status()
        let auditBefore = try await gateway.context.stores.audit.head()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/queries/explain", method: .post, headers: gateway.headers(.analyst, contentType: "application/json"),
                body: json(#"{"metric":"count_events","group_by":"weekday","epsilon":1}"#)
            ) { response in
                #expect(response.status == .ok)
                let explanation = object(response.body)
                #expect(explanation["spent_epsilon"] as? Double == 0)
                #expect((explanation["ledger_epsilon"] as? Double).map { $0 > 0 && $0 <= 1 } == true)
                let releases = explanation["releases"] as? [[String: Any]]
                #expect(releases?.count == 1 && releases?.first?["count"] as? Int == 7)
                #expect((releases?.first?["half_width_95"] as? Double).map { $0 > 0 } == true)
                let codes = (explanation["warnings"] as? [[String: Any]])?.compactMap { $0["code"] as? String }
                #expect(codes == ["group_limit", "contribution_limit"])
            }
            try await client.execute(
                uri: "/v1/queries/explain", method: .post, headers: gateway.headers(.analyst),
                body: json(#"{"metric":"sum","epsilon":1}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect((object(response.body)["message"] as? String)?.hasPrefix("value: ") == true)
            }
        }
        #expect(try await gateway.context.budget.status() == before)
        #expect(try await gateway.context.stores.audit.head() == auditBefore)
    }

    @Test(arguments: [
        (#"{"epsilon":1}"#, "metric: is required (count_events, count_users, sum, mean, histogram, quantile)"),
        (#"{"metric":"count_users"}"#, "epsilon: is required: a number > 0"),
        (#"{"metric":"count_users","epsilon":1,"group-by":"day"}"#, "body: field #3 is not a known field; the fields are bins, epsilon, from, group_by, lower, mechanism, metric, quantile, to, upper, value, where"),
        (#"{"metric":"count_users","epsilon":"1"}"#, "epsilon: is required: a number > 0"),
        (#"{"metric":"count_users","epsilon":1,"bins":"x"}"#, "bins: has the wrong type"),
    ])
    func invalidSpecIs422NamingTheFieldAndSpendsNothing(body: String, message: String) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst), body: json(body)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(object(response.body)["error"] as? String == "invalid_input")
                #expect(object(response.body)["message"] as? String == message)
            }
        }
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }

    @Test func ruleBrokenAgainstThePolicyIs422NamingTheField() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst), body: json(#"{"metric":"median","epsilon":1}"#)
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect((object(response.body)["message"] as? String)?.hasPrefix("metric: ") == true)
            }
        }
    }

    @Test func notJSONIs400() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst), body: json("metric=sum")) {
                response in
                #expect(response.status == .badRequest)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"invalid_input","message":"body: is not valid JSON: expected a value (byte 0)"}"#)
            }
        }
    }

    @Test func budgetRefusalIs403WithTheLedgersMessage() async throws {
        var policy = Policy()
        policy.budget.perPrincipal["test-analyst"] = 0.5
        let gateway = try await TestGateway.make(policy: policy)
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst), body: json(#"{"metric":"count_events","epsilon":1}"#)
            ) { response in
                #expect(response.status == .forbidden)
                #expect(object(response.body)["error"] as? String == "budget_exceeded")
                let message = try #require(object(response.body)["message"] as? String)
                #expect(message.hasPrefix("budget.per_principal.test-analyst: refused: query count_events asks for ε = 1"))
                #expect(message.hasSuffix("Nothing was spent."))
            }
        }
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }
}
