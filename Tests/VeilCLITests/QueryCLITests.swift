import Foundation
import Testing
import VeilCore
import VeilCrypto
import VeilLedger
import VeilQueries
import VeilStore
import VeilTestSupport
@testable import veil

/// `veil query`: options → query → service → printed answer, with the service opened over events in
/// memory (the command's store wiring is the shared service factory's job).
@Suite struct QueryCLITests {
    struct Events: EventScanning {
        let events: [StoredEvent]
        func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
            try body(events.filter(filter.contains))
        }
    }

    static func service() throws -> QueryService { try serviceAndBudget().service }

    static func serviceAndBudget() throws -> (service: QueryService, budget: BudgetService) {
        var policy = Policy()
        policy.budget.maxEpsilonPerRequest = 4
        let start: Int64 = 1_793_577_600_000  // 2026-11-02T00:00:00Z
        let events = (0..<600).map { index in
            StoredEvent(
                eventID: "e\(index)", pseudonym: Pseudonym(high: 1, low: UInt64(index % 200)), epoch: 0,
                type: index % 2 == 0 ? .purchase : .view, timestampMillis: start + Int64(index) * 3_600_000,
                category: policy.categories[index % policy.categories.count], price: Double(index % 40), quantity: 1)
        }
        let stores = try ScratchStores.open()
        let budget = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        return (QueryService(policy: policy, scanning: Events(events: events), budget: budget, audit: stores.audit), budget)
    }

    @Test func optionsBecomeTheSameQueryAsTheJSONBody() throws {
        let command = try QueryCommand.parse([
            "--metric", "sum", "--value", "revenue", "--group-by", "day", "--where", "type=purchase,category=books",
            "--from", "2026-11-02", "--to", "2026-11-08", "--epsilon", "0.5", "--mechanism", "gaussian",
        ])
        let json = #"{"metric":"sum","value":"revenue","group_by":"day","where":"type=purchase,category=books","from":"2026-11-02","to":"2026-11-08","epsilon":0.5,"mechanism":"gaussian"}"#
        #expect(try command.spec() == JSONDecoder().decode(QuerySpec.self, from: Data(json.utf8)))
        let histogram = try QueryCommand.parse(["--metric", "histogram", "--value", "quantity", "--bins", "1,2,5,11", "--epsilon", "1"])
        #expect(try histogram.spec().bins == [1, 2, 5, 11])
        #expect(throws: (any Error).self) { try QueryCommand.parse(["--metric", "sum", "--bins", "x", "--epsilon", "1"]) }
        #expect(throws: (any Error).self) { try QueryCommand.parse(["--metric", "sum", "--where", "colour=red", "--epsilon", "1"]) }
    }

    @Test func printsTextAndJSON() async throws {
        let service = try Self.service()
        let text = try await QueryCommand.execute(
            try QueryCommand.parse(["--metric", "count_users", "--group-by", "weekday", "--epsilon", "1"]).spec(), service: service, json: false)
        #expect(text.contains("count_users by weekday"))
        #expect(text.contains("sensitivity (users): L1 = 4, L2 = 2"))
        for day in ["monday", "sunday"] { #expect(text.contains(day)) }

        let json = try await QueryCommand.execute(
            try QueryCommand.parse(["--metric", "mean", "--value", "revenue", "--epsilon", "1", "--json"]).spec(), service: service, json: true)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let groups = object?["groups"] as? [[String: Any]]
        #expect(groups?.count == 1)
        #expect((groups?.first?["estimate"] as? [String: Any])?["noise_sd"] != nil)

        await #expect(throws: VeilError.self) {
            try await QueryCommand.execute(QuerySpec(metric: "count_events", epsilon: 5), service: service, json: false)
        }
    }

    @Test func explainPrintsNoiseAndWarningsAndSpendsNothing() async throws {
        let (service, budget) = try Self.serviceAndBudget()
        let command = try QueryCommand.parse(["--metric", "mean", "--value", "revenue", "--group-by", "weekday", "--epsilon", "1", "--explain"])
        #expect(command.explain)
        let text = try await QueryCommand.execute(try command.spec(), service: service, json: false, explain: command.explain)
        #expect(text.hasPrefix("explain: mean of revenue by weekday — nothing read, nothing spent"))
        #expect(text.contains("the ledger would charge ε = "))
        for line in ["sum ", "count ", "warnings:", "group_limit (queries.max_groups_per_user)", "noisy_mean (epsilon)"] {
            #expect(text.contains(line), "missing \(line)")
        }
        let json = try await QueryCommand.execute(try command.spec(), service: service, json: true, explain: true)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect((object?["releases"] as? [[String: Any]])?.map { $0["part"] as? String } == ["sum", "count"])
        #expect(object?["spent_epsilon"] as? Double == 0)
        #expect(try await budget.status().spends.isEmpty)
    }
}
