import Foundation
import Synchronization
import Testing
import VeilCore
import VeilCrypto
import VeilLedger
import VeilStore
import VeilTestSupport
@testable import VeilQueries

/// Counts answered from the store's counts per (pseudonym, group) (`QueryPlan.countRequest`) release
/// the same answer, bit for bit, as from the events: the bounder keeps the same groups and counts
/// whatever the order or split of what it is offered, and the count lanes (disjoint users bounded
/// apart, at once) add up to what one bounder makes of every row.
@Suite struct QueryPushDownTests {
    /// 120 users over the week, plus heavy users beyond both bounds: one in every type, 13 categories
    /// (five not in the policy, two of them canonical twins — "café" with é precomposed and decomposed,
    /// two categories by their bytes, as the stores count them) and 40 items, with hundreds of events in
    /// each group.
    static let events: [StoredEvent] = {
        var events = ShopData.events(users: 120, seed: 21)
        for index in events.indices where index % 4 != 0 { events[index].itemID = "sku-\(index % 13)" }
        let categories = ShopData.categories + ["found-1", "found-2", "found-3", "caf\u{E9}", "cafe\u{301}"]
        for heavy in 0..<3 {
            let user = Pseudonym(high: 0xBEEF, low: UInt64(heavy))
            for n in 0..<2_000 {
                var event = ShopData.event(
                    user, 100_000 * (heavy + 1) + n, type: EventType.allCases[n % EventType.allCases.count],
                    millis: ShopData.weekStart + Int64(n) * 7 * 86_400_000 / 2_000, category: categories[(n + heavy) % categories.count])
                event.itemID = "sku-\(n % 40)"
                events.append(event)
            }
        }
        // Many users in the categories found in the data and in one item, so that some pass partition selection.
        for user in 0..<400 {
            var event = ShopData.event(
                ShopData.user(1_000 + user), 500_000 + user, type: .view, millis: ShopData.weekStart + Int64(user) * 1_000,
                category: "found-\(user % 2 + 1)")
            event.itemID = "sku-0"
            events.append(event)
        }
        return events
    }()

    static let specs: [QuerySpec] = [
        QuerySpec(metric: "count_events", groupBy: "category", epsilon: 1),
        QuerySpec(metric: "count_events", groupBy: "item", epsilon: 1),
        QuerySpec(metric: "count_events", groupBy: "type", epsilon: 1),
        QuerySpec(metric: "count_events", groupBy: "day", from: "2026-11-02", to: "2026-11-08", epsilon: 1),
        QuerySpec(metric: "count_events", groupBy: "week", from: "2026-10-20", to: "2026-11-20", epsilon: 1, mechanism: "gaussian"),
        QuerySpec(metric: "count_events", groupBy: "hour_of_day", epsilon: 1),
        QuerySpec(metric: "count_users", groupBy: "weekday", epsilon: 1),
        QuerySpec(metric: "count_users", groupBy: "category", epsilon: 1, mechanism: "gaussian"),
        QuerySpec(metric: "count_events", filter: .init(types: ["view", "purchase"], categories: ["books", "found-1"]), epsilon: 1),
        QuerySpec(metric: "count_users", filter: .init(categories: ["caf\u{E9}"]), epsilon: 1),
        QuerySpec(
            metric: "count_events", groupBy: "type", filter: .init(types: ["view", "click"]), from: "2026-11-03", to: "2026-11-05T12:00:00Z",
            epsilon: 1),
    ]

    /// Through a real SQLite store (the two-reader count), and from events in memory split and shuffled
    /// any way: the same bounded aggregate and the same seeded answer as from the events.
    @Test(arguments: specs)
    func theAnswerIsTheSameBitForBitWithAndWithoutPushDown(spec: QuerySpec) async throws {
        let stores = try ScratchStores.open()
        _ = try await stores.events.commit(
            EventBatchWrite(
                events: Self.events.enumerated().map { index, event in
                    var event = event
                    event.eventID = "p-\(index)"
                    return event
                },
                dataKey: DataKeyRecord(id: "k", sealed: [1], created: Date(timeIntervalSince1970: 0)),
                escrow: { VaultRecord(pseudonym: $0, epoch: 0, dataKeyID: "k", nonce: [1], ciphertext: [2]) }))
        var answers: [QueryAnswer] = []
        for pushDown in [false, true] {
            let budget = BudgetService(policy: ShopData.policy(), store: stores.ledger, audit: stores.audit)
            let service = QueryService(policy: ShopData.policy(), events: stores.events, budget: budget, audit: stores.audit, pushDown: pushDown)
            var generator = ChaChaNoiseGenerator(seed: 7)
            answers.append(try await service.run(spec, principal: "alice", role: .analyst, using: &generator))
        }
        #expect(answers[0].groups == answers[1].groups)
        #expect(answers[0].groups.contains { ($0.estimate?.value ?? 0) != 0 })

        let plan = try QueryPlan(spec, policy: ShopData.policy())
        let key: (UInt64, UInt64) = (0x1234, 0x5678)
        let fromEvents = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: Self.events), key: key, pushDown: false)
        let fromStore = try await QueryEngine.aggregate(plan, events: StoredEventScan(store: stores.events), key: key)
        #expect(fromStore == fromEvents)
        // Every chunk bounded in both count lanes at once (parallelRows 1), not only the large ones.
        let inLanes = try await QueryEngine.aggregate(plan, events: StoredEventScan(store: stores.events), key: key, parallelRows: 1)
        #expect(inLanes == fromEvents)
        for seed in 0..<3 {
            let split = SplitCounts(events: Self.events, seed: UInt64(seed))
            #expect(try await QueryEngine.aggregate(plan, events: split, key: key) == fromEvents, "seed \(seed)")
            #expect(try await QueryEngine.aggregate(plan, events: split, key: key, parallelRows: 1) == fromEvents, "seed \(seed), in lanes")
        }
    }

    /// Pushed down, a user's counts are still bounded: a user with 2,000 events in 11 categories counts
    /// in at most G = 4 groups, at most C = 10 times in each (without bounding: 2,000 in 11).
    @Test func pushedDownCountsAreBoundedPerUser() async throws {
        let heavy = Self.events.filter { $0.pseudonym.high == 0xBEEF && $0.pseudonym.low == 0 }
        #expect(heavy.count == 2_000)
        for spec in [QuerySpec(metric: "count_events", groupBy: "category", epsilon: 1), QuerySpec(metric: "count_users", groupBy: "category", epsilon: 1)] {
            let plan = try QueryPlan(spec, policy: ShopData.policy())
            let aggregate = try await QueryEngine.aggregate(plan, events: SplitCounts(events: heavy, seed: 1), key: (1, 2))
            #expect(aggregate.users.reduce(0, +) == 4)
            #expect(aggregate.counts.reduce(0, +) == (spec.metric == "count_users" ? 4 : 40))
            #expect(aggregate.counts.allSatisfy { $0 == 0 || $0 == Int64(plan.maxContributions) })
        }
    }

    /// A user's kept groups do not depend on the order the events come in, nor on which user showed a
    /// category first: with categories found in the data, the counts from the events read backwards
    /// equal those read forwards (group indices follow the order of first sight; sampling hashes the
    /// key's name, not its index).
    @Test func keptGroupsDoNotDependOnTheOrderOfTheEvents() async throws {
        for spec in [QuerySpec(metric: "count_events", groupBy: "category", epsilon: 1), QuerySpec(metric: "count_users", groupBy: "item", epsilon: 1)] {
            let plan = try QueryPlan(spec, policy: ShopData.policy())
            for key: (UInt64, UInt64) in [(1, 2), (3, 4), (5, 6)] {
                let forwards = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: Self.events), key: key, pushDown: false)
                let backwards = try await QueryEngine.aggregate(
                    plan, events: InMemoryEvents(events: Array(Self.events.reversed())), key: key, pushDown: false)
                #expect(forwards == backwards, "\(spec.groupBy ?? "")")
            }
        }
    }
}

/// Events in memory whose counts per (pseudonym, group) come split into several rows (1 to 3 events
/// each) in a shuffled order: the most a store's `countEvents` may do to them.
struct SplitCounts: EventScanning {
    var events: [StoredEvent]
    var seed: UInt64

    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        try await InMemoryEvents(events: events).scanEvents(filter, body)
    }

    func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws {
        var random = SplitMix64(seed: seed)
        let rows = Mutex<[PseudonymGroupCount]>([])
        try await request.count(scanning: { filter, chunk in try await scanEvents(filter, chunk) }) { chunk in
            rows.withLock { $0 += chunk }
        }
        var split: [PseudonymGroupCount] = []
        for var row in rows.withLock({ $0 }) {
            while row.count > 0 {
                let part = min(row.count, Int64.random(in: 1...3, using: &random))
                split.append(PseudonymGroupCount(pseudonym: row.pseudonym, key: row.key, count: part))
                row.count -= part
            }
        }
        split.shuffle(using: &random)
        for start in stride(from: 0, to: split.count, by: 1_000) { try body(Array(split[start..<min(start + 1_000, split.count)])) }
    }
}
