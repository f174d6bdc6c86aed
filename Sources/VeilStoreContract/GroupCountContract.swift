import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore

/// The store-side aggregate of grouped counts (`EventStore.countEvents`): every backend's counts per
/// (pseudonym, group) equal counting its scan (`EventCountRequest.count(scanning:)`) and counting the
/// stored events by `EventGrouping.key(of:)` — every grouping, with time, type and category filters,
/// events before 1970 and without a category or item, and a category beside its canonical twin ("Bücher
/// ✓" with ü precomposed and decomposed: two categories, by their bytes) — and an erasure shows at once.
enum GroupCountContract {
    static let cases: [StoreContractCase] = [
        StoreContractCase("group counts: every grouping and filter counts as the scan does, per (pseudonym, key)") { deployment in
            let stores = try await deployment.open()
            let stored = events()
            _ = try await stores.events.commit(Fixtures.batch(stored))
            for request in requests() {
                let counted = try await totals { body in try await stores.events.countEvents(request, body) }
                let scanned = try await totals { body in
                    try await request.count(scanning: { filter, chunk in try await stores.events.scan(filter, chunkSize: 97, chunk) }, body)
                }
                let expected = reference(stored, request)
                #expect(counted == expected, "\(request)")
                #expect(scanned == expected, "\(request)")
                #expect(!expected.isEmpty || request.categories == ["none"], "the fixture should fill \(request)")
            }
            // An error thrown by the consumer stops the count and comes back as it was.
            await #expect(throws: CallerFailure(site: "counts")) {
                try await stores.events.countEvents(EventCountRequest(grouping: .category)) { _ in throw CallerFailure(site: "counts") }
            }
        },
        StoreContractCase("group counts: an erased pseudonym is counted nowhere") { deployment in
            let stores = try await deployment.open()
            let stored = events()
            _ = try await stores.events.commit(Fixtures.batch(stored))
            _ = try await stores.events.erase(Fixtures.pid(3)) { _ in AuditDraft(actor: "dpo", action: .subjectErase, details: [:]) }
            let request = EventCountRequest(grouping: .day)
            let counted = try await totals { body in try await stores.events.countEvents(request, body) }
            #expect(counted == reference(stored.filter { $0.pseudonym != Fixtures.pid(3) }, request))
            #expect(!counted.keys.contains { $0.pseudonym == Fixtures.pid(3) })
        },
    ]

    /// A (pseudonym, key) of the totals.
    struct Pair: Hashable {
        var pseudonym: Pseudonym
        var key: EventGroupKey
    }

    /// 1,500 events of 23 users over 40 days from 1969-12-20 (before 1970 too), every type, four
    /// categories, some without a category or an item.
    static func events() -> [StoredEvent] {
        let day: Int64 = 86_400_000
        let categories: [String?] = ["books", "garden", nil, "toys", "B\u{FC}cher ✓", "Bu\u{308}cher ✓"]
        return (0..<1_500).map { n in
            var event = Fixtures.event(
                "c-\(n)", UInt64(n * 7 % 23), at: -12 * day + Int64(n) * 40 * day / 1_500 + Int64(n % 11) * 3_600_000 + 17,
                type: EventType.allCases[n % EventType.allCases.count])
            event.category = categories[n % categories.count]
            event.itemID = n % 6 == 0 ? nil : "sku-\(n % 9)"
            return event
        }
    }

    static func requests() -> [EventCountRequest] {
        let day: Int64 = 86_400_000
        var requests = EventGrouping.allCases.map { EventCountRequest(grouping: $0) }
        for grouping in [EventGrouping.category, .day, .type, .weekday] {
            requests.append(EventCountRequest(filter: EventFilter(time: (-3 * day + 5)..<(9 * day)), grouping: grouping))
            requests.append(EventCountRequest(filter: EventFilter(types: [.view, .purchase]), categories: ["books", "B\u{FC}cher ✓"], grouping: grouping))
            requests.append(EventCountRequest(categories: ["Bu\u{308}cher ✓"], grouping: grouping))
        }
        requests.append(EventCountRequest(categories: ["none"], grouping: .all))
        requests.append(EventCountRequest(filter: EventFilter(time: Int64.min..<(-day), types: [.search]), grouping: .hourOfDay))
        requests.append(EventCountRequest(filter: EventFilter(time: (2 * day)..<(20 * day)), categories: ["garden"], grouping: .week))
        return requests
    }

    /// What `request` counts in `events`, by the one definition of its keys.
    static func reference(_ events: [StoredEvent], _ request: EventCountRequest) -> [Pair: Int64] {
        var totals: [Pair: Int64] = [:]
        for event in events where request.admits(event) {
            guard let key = request.grouping.key(of: event) else { continue }
            totals[Pair(pseudonym: event.pseudonym, key: key), default: 0] += 1
        }
        return totals
    }

    /// The rows a count hands over, added up per (pseudonym, key); a row of count 0 or less fails.
    static func totals(
        _ count: (@escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws -> Void
    ) async throws -> [Pair: Int64] {
        let totals = Mutex<[Pair: Int64]>([:])
        try await count { rows in
            for row in rows {
                #expect(row.count > 0)
                totals.withLock { $0[Pair(pseudonym: row.pseudonym, key: row.key), default: 0] += row.count }
            }
        }
        return totals.withLock { $0 }
    }
}
