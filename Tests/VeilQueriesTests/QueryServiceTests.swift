import Foundation
import Testing
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilStore
import VeilTestSupport
import VeilLedger
@testable import VeilQueries

@Suite struct QueryPartitionSelectionTests {
    /// Public categories (even one nobody bought in), a category held by 3,000 users and one held by 5.
    static let events: [StoredEvent] = {
        var events = ShopData.events(users: 300, seed: 9).filter { $0.category != "toys" }
        var serial = 10_000_000
        for index in 0..<3_000 {
            serial += 1
            events.append(ShopData.event(ShopData.user(100_000 + index), serial, type: .view, millis: ShopData.weekStart, category: "garden"))
        }
        for index in 0..<5 {
            for repeatIndex in 0..<50 {
                serial += 1
                events.append(
                    ShopData.event(
                        ShopData.user(200_000 + index), serial, type: .purchase, millis: ShopData.weekStart + Int64(repeatIndex),
                        category: "rare-vintage", price: 10, quantity: 1))
            }
        }
        return events
    }()

    @Test(arguments: ["laplace", "gaussian"], ["count_users", "count_events"])
    func rareCategoryIsNeverReleasedCommonOneAlways(mechanism: String, metric: String) async throws {
        let plan = try QueryPlan(QuerySpec(metric: metric, groupBy: "category", epsilon: 1, mechanism: mechanism), policy: ShopData.policy())
        let threshold = try #require(plan.selectionThreshold)
        #expect(threshold > 5 && threshold < 1_000)
        let aggregate = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: Self.events), key: (3, 4))
        var generator = ChaChaNoiseGenerator(seed: 21)
        for _ in 0..<200 {
            let answer = QueryRelease.answer(plan: plan, aggregate: aggregate, receipt: QueryStatisticsTests.receipt, using: &generator)
            let keys = answer.groups.map(\.key)
            #expect(keys == ShopData.categories + ["garden"])
            #expect(answer.groups.last?.source == "selected")
            #expect(answer.partitionSelection?.threshold == threshold)
        }
    }
}

@Suite struct QueryItemSelectionTests {
    /// An item viewed by 3,000 users, one bought 50 times by each of 5 users, and the shop data's
    /// events without items.
    static let events: [StoredEvent] = {
        var events = ShopData.events(users: 300, seed: 9)
        var serial = 20_000_000
        func add(_ user: Int, _ item: String, _ offset: Int64) {
            serial += 1
            var event = ShopData.event(ShopData.user(user), serial, type: .view, millis: ShopData.weekStart + offset, category: "books")
            event.itemID = item
            events.append(event)
        }
        for index in 0..<3_000 { add(100_000 + index, "item-common", 0) }
        for index in 0..<5 { for repeatIndex in 0..<50 { add(200_000 + index, "item-rare", Int64(repeatIndex)) } }
        return events
    }()

    /// Items have no public keys: every item found goes through partition selection, so the common item
    /// is always released and the rare one (5 users) never.
    @Test(arguments: ["laplace", "gaussian"])
    func onlyItemsWithManyUsersAreReleased(mechanism: String) async throws {
        let plan = try QueryPlan(QuerySpec(metric: "count_users", groupBy: "item", epsilon: 1, mechanism: mechanism), policy: ShopData.policy())
        #expect(plan.publicKeys.isEmpty && plan.selectsPartitions)
        let threshold = try #require(plan.selectionThreshold)
        #expect(threshold > 5 && threshold < 1_000)
        let aggregate = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: Self.events), key: (3, 4))
        var generator = ChaChaNoiseGenerator(seed: 22)
        for _ in 0..<200 {
            let answer = QueryRelease.answer(plan: plan, aggregate: aggregate, receipt: QueryStatisticsTests.receipt, using: &generator)
            #expect(answer.groups.map(\.key) == ["item-common"])
            #expect(answer.groups.allSatisfy { $0.source == "selected" })
        }
    }

    @Test func orderValuesCannotBeGroupedByItem() {
        let error = #expect(throws: VeilError.self) {
            try QueryPlan(QuerySpec(metric: "sum", value: "order_value", groupBy: "item", epsilon: 1), policy: ShopData.policy())
        }
        #expect(error?.field == "group_by")
    }
}

@Suite struct QueryServiceTests {
    static func service(policy: Policy, events: any EventScanning, stores: StoreSet) -> (QueryService, BudgetService) {
        let budget = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        return (QueryService(policy: policy, scanning: events, budget: budget, audit: stores.audit), budget)
    }

    @Test func reservesAuditsThenAnswers() async throws {
        let stores = try ScratchStores.open()
        let events = WatchedEvents(ShopData.events(users: 200, seed: 1))
        let (service, budget) = Self.service(policy: ShopData.policy(), events: events, stores: stores)
        var generator = ChaChaNoiseGenerator(seed: 1)
        let spec = QuerySpec(metric: "mean", value: "revenue", groupBy: "category", epsilon: 0.5, mechanism: "gaussian")
        let answer = try await service.run(spec, principal: "alice", role: .analyst, using: &generator)

        #expect(answer.groups.map(\.key) == ShopData.categories)
        #expect(answer.groups.allSatisfy { $0.sum != nil && $0.count != nil && $0.estimate != nil })
        #expect(answer.sensitivity.map(\.part) == ["sum", "count", "selection"])
        // Sum: 4 groups × 10 contributions × $50 (plus the rounding of the release unit); count 4 × 10; selection √4.
        #expect(abs(answer.sensitivity[0].l1 - 4 * 10 * 50) <= 2 && answer.sensitivity[1].l1 == 40 && answer.sensitivity[2].l2 == 2)
        #expect(answer.budget.epsilon <= 0.5 + 1e-12)
        #expect(try await budget.status().spends.count == 1)
        #expect(events.scanCount == 1)
        let records = try await stores.chainBodies()
        #expect(records.map(\.action) == ["budget.spend", "query.run"])
        let details = records[1].details
        #expect(details["metric"] == .string("mean") && details["group_by"] == .string("category"))
        let allowed: Set<String> = [
            "metric", "value", "group_by", "epsilon", "delta", "mechanism", "ledger_mechanism", "spend_id", "lower", "upper",
            "max_groups_per_user", "max_contributions_per_group", "sensitivity", "selection_threshold", "where", "from", "to",
            "quantile", "bins",
        ]
        #expect(Set(details.keys).isSubset(of: allowed))

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(answer), as: UTF8.self)
        for key in ["\"noise_sd\"", "\"partition_selection\"", "\"interval_method\"", "\"max_groups_per_user\"", "\"group_by\":\"category\""] {
            #expect(json.contains(key), "missing \(key)")
        }
        #expect(try JSONDecoder().decode(QueryAnswer.self, from: Data(json.utf8)) == answer)
    }

    @Test func refusedOrInvalidQueriesReadNothing() async throws {
        var policy = ShopData.policy()
        policy.budget.totalEpsilon = 1
        let stores = try ScratchStores.open()
        let events = WatchedEvents(ShopData.events(users: 50, seed: 2))
        let (service, budget) = Self.service(policy: policy, events: events, stores: stores)
        var generator = ChaChaNoiseGenerator(seed: 2)

        _ = try await service.run(QuerySpec(metric: "count_users", epsilon: 0.9), principal: "cli", role: .analyst, using: &generator)
        #expect(events.scanCount == 1)
        for _ in 0..<2 {
            do {
                _ = try await service.run(QuerySpec(metric: "count_users", epsilon: 0.9), principal: "cli", role: .analyst, using: &generator)
                Issue.record("a query past the cap must be refused")
            } catch let error as VeilError {
                #expect(error.code == .budgetExceeded)
            }
        }
        do {
            _ = try await service.run(QuerySpec(metric: "sum", epsilon: 0.1), principal: "cli", role: .analyst, using: &generator)
            Issue.record("a sum without a value must be refused")
        } catch let error as VeilError {
            #expect(error.code == .invalidInput && error.field == "value")
        }
        #expect(events.scanCount == 1)
        #expect(try await budget.status().spends.count == 1)
        #expect(try await stores.chainActions() == ["budget.spend", "query.run", "budget.refuse", "budget.refuse"])
    }
}
