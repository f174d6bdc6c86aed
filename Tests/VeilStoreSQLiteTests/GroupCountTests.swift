import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// The SQLite readers count as they read (`SQLiteGroupCounts`): over many ranges on two readers and
/// through a time range on one, with counters too small to hold every pair, the rows still add up to
/// the count of every (pseudonym, key), and the readers did hand rows on before the end.
@Suite struct GroupCountTests {
    @Test func countersThatFillUpHandOnRowsThatStillAddUp() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        let day: Int64 = 86_400_000
        let categories: [String?] = ["books", "toys", nil, "garden"]
        let stored = (0..<3_000).map { n -> StoredEvent in
            var stored = event("g-\(n)", UInt64(n * 13 % 37), at: Int64(n) * 30 * day / 3_000, type: n % 5 == 0 ? .purchase : .view)
            stored.category = categories[n % categories.count]
            return stored
        }
        for start in stride(from: 0, to: stored.count, by: 500) {
            _ = try await fixture.events.commit(batch(Array(stored[start..<(start + 500)])))
        }
        let requests = [
            EventCountRequest(grouping: .category), EventCountRequest(filter: EventFilter(types: [.view]), grouping: .day),
            EventCountRequest(filter: EventFilter(time: (3 * day)..<(20 * day)), categories: ["toys", "books"], grouping: .weekday),
        ]
        for request in requests {
            var expected: [PseudonymGroupCount] = []
            for event in stored where request.admits(event) {
                guard let key = request.grouping.key(of: event) else { continue }
                expected.append(PseudonymGroupCount(pseudonym: event.pseudonym, key: key, count: 1))
            }
            let rows = Mutex<[PseudonymGroupCount]>([])
            try await fixture.events.countEvents(request, rangeWidth: 64, capacity: 20) { chunk in rows.withLock { $0 += chunk } }
            let counted = rows.withLock { $0 }
            #expect(Self.totals(counted) == Self.totals(expected), "\(request)")
            #expect(counted.count > Self.totals(expected).count, "the counters never handed on a full set of rows: \(request)")
        }
    }

    /// A text key is interned once, the first time its bytes are met, and found again from its bytes
    /// alone: thousands of keys (the table grows), keys of equal length that differ in one byte, the
    /// empty key, non-ASCII keys.
    @Test func textKeysAreInternedOnceAndFoundFromTheirBytes() {
        var index = TextKeyIndex()
        var interned: [String] = []
        let keys = (0..<3_000).map { "sku-\($0)" } + ["", "Bücher ✓", "sku-1 ", "sku-0", "abc", "abd"]
        for round in 0..<2 {
            for (position, key) in keys.enumerated() {
                let found = Array(key.utf8).withUnsafeBufferPointer { text in
                    index.index(of: text) { name in
                        interned.append(name)
                        return Int32(interned.count - 1)
                    }
                }
                #expect(interned[Int(found)] == key, "round \(round), key \(position)")
            }
        }
        // "sku-0" comes twice in the list: every distinct key once, in order of first sight.
        #expect(interned == Array(keys.prefix(3_000)) + ["", "Bücher ✓", "sku-1 ", "abc", "abd"])
    }

    static func totals(_ rows: [PseudonymGroupCount]) -> [String: Int64] {
        rows.reduce(into: [:]) { $0["\($1.pseudonym.hex) \($1.key)", default: 0] += $1.count }
    }
}
