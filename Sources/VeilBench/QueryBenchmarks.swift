import Foundation
import VeilCore
import VeilCrypto
import VeilLedger
import VeilQueries
import VeilStore

/// DP aggregate queries over 10,000,000 in-memory events (issue 6: target < 2 s each in release):
/// a count grouped by category (with partition selection) and a revenue sum, through `QueryService.run`
/// (validation, ledger reservation with its audit record in a scratch data directory, bounding, noise).
enum QueryBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "query") {
            let events = BenchEvents(count: 10_000_000, users: 500_000, seed: 7)
            var policy = Policy()
            policy.budget.totalEpsilon = 1_000
            let deployment = try await BenchDeployment.make(policy: policy)
            let stores = deployment.context.stores
            let budget = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
            let service = QueryService(policy: policy, scanning: events, budget: budget, audit: stores.audit)
            let queries: [(String, QuerySpec)] = [
                ("query.count_by_category", QuerySpec(metric: "count_events", groupBy: "category", epsilon: 0.5)),
                ("query.revenue_sum", QuerySpec(metric: "sum", value: "revenue", epsilon: 0.5)),
                ("query.revenue_sum_by_day_gaussian", QuerySpec(
                    metric: "sum", value: "revenue", groupBy: "day", from: "2026-11-02", to: "2026-11-29", epsilon: 0.5,
                    mechanism: "gaussian")),
            ]
            var results: [BenchResult] = []
            for (name, spec) in queries {
                var groups = 0
                let seconds = try await Stopwatch.bestSeconds(repetitions: 3) {
                    groups = try await service.run(spec, principal: "bench", role: .analyst).groups.count
                }
                blackHole(groups)
                results.append(BenchResult(name: name + ".seconds", value: seconds, unit: "s"))
                results.append(BenchResult(name: name + ".events_per_second", value: Double(events.count) / seconds, unit: "events/s"))
            }
            deployment.remove()
            return results
        }
    ]
}

/// Events held in memory in chunks of 65,536, handed to the engine without copying (the filter is left
/// to the engine: this measures the engine, not the store's read).
struct BenchEvents: EventScanning {
    let chunks: [[StoredEvent]]
    let count: Int

    /// `count` events of `users` users over four weeks from 2026-11-02: 60% views, 15% clicks, 10% searches,
    /// 8% add-to-cart, 7% purchases (price 1–200, quantity 1–3, one of 4 sessions); 8 policy categories and
    /// a long tail of 2,000 rare ones (1% of events).
    init(count: Int, users: Int, seed: UInt64) {
        var generator = ChaChaNoiseGenerator(seed: seed)
        let categories = Policy().categories
        let tail = (0..<2_000).map { "tail-\($0)" }
        let start: Int64 = 1_793_577_600_000
        var chunks: [[StoredEvent]] = []
        var chunk: [StoredEvent] = []
        chunk.reserveCapacity(65_536)
        for index in 0..<count {
            let random = generator.next()
            let user = Int(random % UInt64(users))
            let roll = Int((random >> 32) % 100)
            let type: EventType = roll < 60 ? .view : roll < 75 ? .click : roll < 85 ? .search : roll < 93 ? .addToCart : .purchase
            let pick = Int((random >> 40) % 100)
            let category = pick == 0 ? tail[Int((random >> 48) % 2_000)] : categories[pick % categories.count]
            let millis = start + Int64((random >> 20) % (28 * 86_400_000))
            var event = StoredEvent(
                eventID: "e\(index)", pseudonym: Pseudonym(high: 0x5EED, low: UInt64(user)), epoch: 0, type: type,
                timestampMillis: millis, category: category)
            if type == .purchase {
                event.price = Double(100 + (random >> 8) % 19_901) / 100
                event.quantity = 1 + Int((random >> 4) % 3)
                event.session = Pseudonym(high: UInt64(user), low: (random >> 2) % 4)
            }
            chunk.append(event)
            if chunk.count == 65_536 {
                chunks.append(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { chunks.append(chunk) }
        self.chunks = chunks
        self.count = count
    }

    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        for chunk in chunks { try body(chunk) }
    }
}
