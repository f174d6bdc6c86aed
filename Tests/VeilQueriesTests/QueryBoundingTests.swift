import Foundation
import Testing
import VeilCore
@testable import VeilQueries

/// Contribution bounding: samples are uniform, not the first events seen, and one user's whole
/// history moves the bounded answers by no more than the stated sensitivity.
@Suite struct QueryBoundingTests {
    /// The store reads only the fields a plan names (`QueryPlan.fieldsRead`): every metric, value and
    /// grouping aggregates the same from those as from whole events (fails if the plan leaves out a
    /// field the engine reads).
    @Test func aPlanNamesEveryFieldTheEngineReads() async throws {
        var events = ShopData.events(users: 300, seed: 11)
        for index in events.indices where index % 3 == 0 { events[index].itemID = "sku-\(index % 7)" }
        let specs = QueryGroupBy.allCases.map {
            QuerySpec(metric: "count_events", groupBy: $0.rawValue, from: "2026-11-02", to: "2026-11-08", epsilon: 1)
        }
            + QueryValue.allCases.map { QuerySpec(metric: "sum", value: $0.rawValue, epsilon: 1) }
            + [QuerySpec(metric: "sum", value: "revenue", groupBy: "category", epsilon: 1)]
            + [QuerySpec(metric: "count_users", groupBy: "type", filter: .init(categories: ["books"]), epsilon: 1)]
        for spec in specs {
            let plan = try QueryPlan(spec, policy: ShopData.policy())
            let trimmed = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: events), key: (3, 4))
            let whole = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: events, keepsEveryField: true), key: (3, 4))
            #expect(trimmed == whole, "\(spec.metric) \(spec.value ?? "") by \(spec.groupBy ?? "")")
            #expect(trimmed.counts.reduce(0, +) > 0)
        }
        let count = try QueryPlan(QuerySpec(metric: "count_events", groupBy: "category", epsilon: 1), policy: ShopData.policy())
        #expect(count.eventFilter.fields == [.category])
    }

    /// A user with 100 purchases valued 1 … 100: the 10 kept are a uniform sample (mean ≈ 50.5), not the first 10.
    @Test func keptContributionsAreAUniformSample() async throws {
        let user = ShopData.user(1)
        let events = (1...100).map {
            ShopData.event(user, $0, type: .purchase, millis: ShopData.weekStart + Int64($0), category: "books", price: Double($0), quantity: 1)
        }
        var policy = ShopData.policy()
        policy.queries.valueBounds["revenue"] = ValueBounds(lower: 0, upper: 100)
        let plan = try QueryPlan(QuerySpec(metric: "sum", value: "revenue", epsilon: 1), policy: policy)
        var total = 0.0
        let trials = 300
        for trial in 0..<trials {
            let aggregate = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: events), key: (UInt64(trial), 77))
            #expect(aggregate.counts[0] == 10)
            total += Double(aggregate.sums[0]) / 100 / 10
        }
        // The mean of 10 values drawn without replacement from 1…100 has sd ≈ 8.7; over 300 trials ≈ 0.5.
        #expect(abs(total / Double(trials) - 50.5) < 2.5)
    }

    /// A user in 8 categories with max_groups_per_user = 4 keeps each category about half the time.
    @Test func keptGroupsAreAUniformSample() async throws {
        let user = ShopData.user(1)
        let events = ShopData.categories.enumerated().flatMap { index, category in
            (0..<(index + 1)).map { ShopData.event(user, index * 10 + $0, type: .view, millis: ShopData.weekStart, category: category) }
        }
        let plan = try QueryPlan(QuerySpec(metric: "count_users", groupBy: "category", epsilon: 1), policy: ShopData.policy())
        var kept = [Int](repeating: 0, count: 8)
        let trials = 400
        for trial in 0..<trials {
            let aggregate = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: events.shuffled()), key: (UInt64(trial), 5))
            #expect(aggregate.users.reduce(0, +) == 4)
            for index in 0..<8 { kept[index] += Int(aggregate.users[index]) }
        }
        for count in kept { #expect((0.4...0.6).contains(Double(count) / Double(trials)), "kept \(kept)") }
    }

    /// One user with 1,000,000 events (every type, category — public and not — hour and session).
    static let heavyEvents: [StoredEvent] = {
        let user = Pseudonym(high: 0xFFFF_FFFF, low: 1)
        let categories = ShopData.categories + ["heavy-only-1", "heavy-only-2", "heavy-only-3"]
        let types = EventType.allCases
        return (0..<1_000_000).map { index in
            ShopData.event(
                user, 0, type: index % 3 == 0 ? .purchase : types[index % types.count],
                millis: ShopData.weekStart + Int64(index) * 600_000 % (7 * 86_400_000),
                category: categories[index % categories.count], price: Double(index % 997) / 3, quantity: 1 + index % 25,
                session: Pseudonym(high: 9, low: UInt64(index % 1_000)))
        }
    }()

    static let base = ShopData.events(users: 300, seed: 3)

    @Test(arguments: [
        QuerySpec(metric: "count_events", groupBy: "category", epsilon: 1),
        QuerySpec(metric: "count_users", groupBy: "hour_of_day", epsilon: 1),
        QuerySpec(metric: "mean", value: "revenue", groupBy: "day", from: "2026-11-02", to: "2026-11-08", epsilon: 1),
        QuerySpec(metric: "histogram", value: "basket_size", groupBy: "weekday", epsilon: 1),
        QuerySpec(metric: "sum", value: "order_value", epsilon: 1, mechanism: "gaussian"),
        QuerySpec(metric: "quantile", value: "quantity", groupBy: "category", quantile: 0.9, epsilon: 1),
    ])
    func oneUserMovesAnswersByAtMostTheSensitivity(spec: QuerySpec) async throws {
        let plan = try QueryPlan(spec, policy: ShopData.policy())
        let key: (UInt64, UInt64) = (42, 43)
        let without = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: Self.base), key: key)
        let with = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: Self.base + Self.heavyEvents, chunkSize: 65_536), key: key)
        for part in plan.parts {
            // Large sums are released in coarser units: compare what is released, the rounded sums.
            let a = Self.vector(part.kind, without, keys: with.keys).map { QueryRelease.roundToUnit($0, unit: part.unit) }
            let b = Self.vector(part.kind, with, keys: with.keys).map { QueryRelease.roundToUnit($0, unit: part.unit) }
            let differences = zip(a, b).map { Double($1 - $0) }
            let l1 = differences.reduce(0) { $0 + abs($1) }
            let l2 = differences.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(l1 > 0, "the heavy user should move \(part.kind)")
            #expect(l1 <= part.l1, "\(part.kind): L1 \(l1) > \(part.l1)")
            #expect(l2 <= part.l2 + 1e-9, "\(part.kind): L2 \(l2) > \(part.l2)")
        }
    }

    /// The part's integer vector over `keys` (keys the aggregate lacks count 0).
    static func vector(_ kind: NoisePart.Kind, _ aggregate: BoundedAggregate, keys: [String]) -> [Int64] {
        keys.flatMap { key -> [Int64] in
            guard let index = aggregate.keys.firstIndex(of: key) else {
                return Array(repeating: 0, count: kind == .histogram ? aggregate.bins.first?.count ?? 0 : 1)
            }
            switch kind {
            case .count: return [aggregate.counts[index]]
            case .users, .selection: return [aggregate.users[index]]
            case .sum: return [aggregate.sums[index]]
            case .histogram: return aggregate.bins[index]
            }
        }
    }
}
