import Foundation
import VeilTestSupport
import VeilCore
import VeilCrypto
import VeilStore
@testable import VeilQueries

/// Real events held in memory, served in chunks as the contract says (only what the filter admits, with
/// only the fields it names unless `keepsEveryField`): the engine's input in tests of the engine (the
/// store's scan is tested by the store contract).
struct InMemoryEvents: EventScanning {
    var events: [StoredEvent]
    var chunkSize = 4_096
    var keepsEveryField = false

    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        let admitted = events.filter(filter.contains).map { keepsEveryField ? $0 : filter.trimmed($0) }
        var start = 0
        while start < admitted.count {
            let end = min(start + chunkSize, admitted.count)
            try body(Array(admitted[start..<end]))
            start = end
        }
    }
}

/// Records whether anything was read, to check that refused queries read nothing.
final class WatchedEvents: EventScanning, @unchecked Sendable {
    let inner: InMemoryEvents
    private let lock = NSLock()
    private var scans = 0

    init(_ events: [StoredEvent]) { inner = InMemoryEvents(events: events) }

    var scanCount: Int { lock.withLock { scans } }

    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        lock.withLock { scans += 1 }
        try await inner.scanEvents(filter, body)
    }
}



/// Generated shop data: a week from Monday 2026-11-02, policy categories, purchases with sessions.
enum ShopData {
    static let weekStart: Int64 = 1_793_577_600_000  // 2026-11-02T00:00:00Z
    static let categories = Policy().categories

    static func user(_ index: Int) -> Pseudonym { Pseudonym(high: 0xABCD, low: UInt64(index)) }

    static func event(
        _ user: Pseudonym, _ serial: Int, type: EventType, millis: Int64, category: String?, price: Double? = nil,
        quantity: Int? = nil, session: Pseudonym? = nil
    ) -> StoredEvent {
        StoredEvent(
            eventID: "e\(serial)", pseudonym: user, epoch: 0, type: type, timestampMillis: millis, session: session,
            category: category, price: price, quantity: quantity)
    }

    /// `users` users with 1…`maxEvents` events each over the week.
    static func events(users: Int, maxEvents: Int = 30, seed: UInt64) -> [StoredEvent] {
        var random = SplitMix64(seed: seed)
        var events: [StoredEvent] = []
        var serial = 0
        let types: [EventType] = [.view, .view, .view, .click, .search, .addToCart, .purchase, .purchase]
        for index in 0..<users {
            let user = user(index)
            let count = Int.random(in: 1...maxEvents, using: &random)
            for _ in 0..<count {
                serial += 1
                let type = types.randomElement(using: &random)!
                let millis = weekStart + Int64.random(in: 0..<(7 * 86_400_000), using: &random)
                let category = categories.randomElement(using: &random)!
                if type == .purchase {
                    let session = Pseudonym(high: UInt64(index), low: UInt64.random(in: 0..<3, using: &random))
                    events.append(
                        event(
                            user, serial, type: type, millis: millis, category: category,
                            price: Double(Int.random(in: 100...6_000, using: &random)) / 100,
                            quantity: Int.random(in: 1...3, using: &random), session: session))
                } else {
                    events.append(event(user, serial, type: type, millis: millis, category: category))
                }
            }
        }
        return events
    }

    /// A policy with small value bounds, so sums stay in unit-1 fixed point.
    static func policy() -> Policy {
        var policy = Policy()
        policy.queries.valueBounds["revenue"] = ValueBounds(lower: 0, upper: 50)
        policy.queries.valueBounds["order_value"] = ValueBounds(lower: 0, upper: 100)
        policy.budget.maxEpsilonPerRequest = 4
        return policy
    }
}
