import Foundation
import Testing
import VeilCore
import VeilCrypto
import VeilLedger
import VeilTestSupport
@testable import VeilQueries

@Suite struct QueryExplanationTests {
    static let specs: [QuerySpec] = [
        QuerySpec(metric: "count_users", epsilon: 1),
        QuerySpec(metric: "count_events", groupBy: "weekday", epsilon: 0.5, mechanism: "gaussian"),
        QuerySpec(metric: "sum", value: "revenue", groupBy: "category", epsilon: 1),
        QuerySpec(metric: "mean", value: "order_value", groupBy: "hour_of_day", epsilon: 2, mechanism: "gaussian"),
        QuerySpec(metric: "histogram", value: "revenue", bins: [0, 10, 20, 60], epsilon: 1),
        QuerySpec(metric: "quantile", value: "quantity", quantile: 0.5, epsilon: 1, mechanism: "gaussian"),
    ]

    @Test func explainingReadsSpendsAndAuditsNothing() async throws {
        let stores = try ScratchStores.open()
        let events = WatchedEvents(ShopData.events(users: 50, seed: 3))
        let (service, budget) = QueryServiceTests.service(policy: ShopData.policy(), events: events, stores: stores)
        let before = try await budget.status()
        for spec in Self.specs {
            let explanation = try service.explain(spec)
            #expect(explanation.spentEpsilon == 0)
            #expect(explanation.ledgerEpsilon > 0)
        }
        #expect(events.scanCount == 0)
        let after = try await budget.status()
        #expect(after.spends.isEmpty && before.spends.isEmpty)
        #expect(after == before)
        #expect(try await stores.chainActions().isEmpty)
    }

    /// The explanation's numbers are the ones the run states: the receipt's ε, the sensitivities, the
    /// interval method, and each value's noise sd and interval half-width.
    @Test(arguments: specs)
    func explanationStatesWhatTheRunWouldState(spec: QuerySpec) async throws {
        let stores = try ScratchStores.open()
        let (service, _) = QueryServiceTests.service(
            policy: ShopData.policy(), events: InMemoryEvents(events: ShopData.events(users: 300, seed: 4)), stores: stores)
        let explanation = try service.explain(spec)
        var generator = ChaChaNoiseGenerator(seed: 4)
        let answer = try await service.run(spec, principal: "alice", role: .analyst, using: &generator)

        #expect(abs(answer.budget.epsilon - explanation.ledgerEpsilon) <= 1e-12 * explanation.ledgerEpsilon)
        #expect(answer.sensitivity == explanation.sensitivity)
        #expect(answer.intervalMethod == explanation.intervalMethod)
        #expect(answer.bounding == explanation.bounding)
        #expect(answer.partitionSelection == explanation.partitionSelection)
        #expect(explanation.releases.map(\.part) == answer.sensitivity.map(\.part))

        // Every released noisy number (the count or sum of each group, or each bin) against its part.
        var released: [(part: String, estimate: QueryAnswer.Estimate)] = []
        for group in answer.groups {
            if let bins = group.bins {
                released += bins.map { ("histogram", $0.estimate) }
            } else if spec.metric == "mean" {
                released += [("sum", group.sum!), ("count", group.count!)]
            } else {
                released.append((explanation.releases[0].part, group.estimate!))
            }
        }
        #expect(!released.isEmpty)
        for (part, estimate) in released {
            let release = try #require(explanation.releases.first { $0.part == part })
            let value = try #require(estimate.value)
            #expect(estimate.noiseSD == release.noiseSD)
            #expect(abs((estimate.high - value) - release.halfWidth95) <= 1e-9 * max(1, release.halfWidth95))
            #expect(abs((value - estimate.low) - release.halfWidth95) <= 1e-9 * max(1, release.halfWidth95))
        }
        let publicGroups = answer.groups.filter { $0.source == "public" }.count
        for release in explanation.releases where release.part != "selection" {
            let bins = release.part == "histogram" ? try #require(answer.groups.first?.bins).count : 1
            #expect(release.count == publicGroups * bins)
        }
    }

    /// Known answer, independent of the code: ε = 1 on one distinct-user count (L1 = 1) is discrete
    /// Laplace with scale 1, p = e⁻¹: sd = √(2p)/(1 − p) = 1.356962…, and the smallest k with
    /// P(|X| > k) = 2p^(k+1)/(1 + p) ≤ 5% is 3 (k = 2 leaves 7.3%).
    @Test func laplaceUserCountKnownAnswer() throws {
        let stores = try ScratchStores.open()
        let (service, _) = QueryServiceTests.service(policy: ShopData.policy(), events: InMemoryEvents(events: []), stores: stores)
        let explanation = try service.explain(QuerySpec(metric: "count_users", epsilon: 1))
        let release = try #require(explanation.releases.first)
        #expect(release.part == "users" && release.count == 1 && release.exact)
        #expect(abs(release.noiseSD - 1.356_962_486) < 1e-8)
        #expect(release.halfWidth95 == 3)
        #expect(explanation.warnings.isEmpty)
        #expect(explanation.accountant == "pld")
    }

    @Test func warnsWhereTheBoundsCanBiasTheAnswer() throws {
        let stores = try ScratchStores.open()
        let (service, _) = QueryServiceTests.service(policy: ShopData.policy(), events: InMemoryEvents(events: []), stores: stores)
        func codes(_ spec: QuerySpec) throws -> [String: String] {
            Dictionary(uniqueKeysWithValues: try service.explain(spec).warnings.map { ($0.code, $0.field) })
        }
        // 7 weekdays, at most 4 per user: a per-user group limit below the groups a user can reach.
        #expect(try codes(QuerySpec(metric: "count_events", groupBy: "weekday", epsilon: 1))["group_limit"] == "queries.max_groups_per_user")
        // Two groups, limit capped at 2: nothing is cut; a user count is one per group anyway.
        #expect(try codes(QuerySpec(metric: "count_users", groupBy: "type", filter: QueryFilter(types: ["view", "purchase"]), epsilon: 1)).isEmpty)
        #expect(try codes(QuerySpec(metric: "count_events", epsilon: 1))["contribution_limit"] == "queries.max_contributions_per_group")
        // Categories from the data: the limit and partition selection.
        let category = try codes(QuerySpec(metric: "count_users", groupBy: "category", epsilon: 1))
        #expect(category["group_limit"] != nil && category["partition_selection"] == "where.category")
        // A clamp narrower than the policy's value bounds cuts values the policy allows.
        let narrow = try service.explain(QuerySpec(metric: "sum", value: "revenue", upper: 20, epsilon: 1))
        let clamp = try #require(narrow.warnings.first { $0.code == "clamp" })
        #expect(clamp.field == "upper" && clamp.message.contains("[0, 20]") && clamp.message.contains("[0, 50]"))
        #expect(try codes(QuerySpec(metric: "sum", value: "revenue", lower: 5, epsilon: 1))["clamp"] == "lower")
        // Bins that stop short of the clamp range pile values into the end bins.
        #expect(try codes(QuerySpec(metric: "histogram", value: "revenue", bins: [0, 10, 20], epsilon: 1))["bins_outside_bounds"] == "bins")
        #expect(try codes(QuerySpec(metric: "histogram", value: "revenue", bins: [0, 25, 50], epsilon: 1))["bins_outside_bounds"] == nil)
        // A mean states the group size below which its count noise exceeds 20%.
        let mean = try service.explain(QuerySpec(metric: "mean", value: "revenue", epsilon: 1))
        let countSD = try #require(mean.releases.first { $0.part == "count" }).noiseSD
        let noisy = try #require(mean.warnings.first { $0.code == "noisy_mean" })
        #expect(noisy.message.contains("about \(Int((5 * countSD).rounded(.up))) bounded events"))
    }

    @Test func brokenRulesAreTheRunsErrors() throws {
        let stores = try ScratchStores.open()
        let (service, _) = QueryServiceTests.service(policy: ShopData.policy(), events: InMemoryEvents(events: []), stores: stores)
        for (spec, field) in [
            (QuerySpec(metric: "sum", epsilon: 1), "value"), (QuerySpec(metric: "count_users", epsilon: 40), "epsilon"),
            (QuerySpec(metric: "count_users", groupBy: "day", epsilon: 1), "group_by"),
        ] {
            #expect {
                try service.explain(spec)
            } throws: { error in
                (error as? VeilError)?.code == .invalidInput && (error as? VeilError)?.field == field
            }
        }
    }

    @Test func jsonFormNamesItsFieldsInSnakeCase() throws {
        let stores = try ScratchStores.open()
        let (service, _) = QueryServiceTests.service(policy: ShopData.policy(), events: InMemoryEvents(events: []), stores: stores)
        let explanation = try service.explain(QuerySpec(metric: "count_users", groupBy: "category", epsilon: 1))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(explanation), as: UTF8.self)
        for key in ["\"ledger_epsilon\"", "\"spent_epsilon\":0", "\"half_width_95\"", "\"noise_sd\"", "\"warnings\"", "\"partition_selection\""] {
            #expect(json.contains(key), "missing \(key)")
        }
        #expect(try JSONDecoder().decode(QueryExplanation.self, from: Data(json.utf8)) == explanation)
    }
}
