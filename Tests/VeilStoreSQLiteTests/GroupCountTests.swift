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

    /// The counter's rows add up to the count of every (pseudonym, key): 5,000 users (its partitions'
    /// tables grow) with 1 to 20 keys each (beyond the 8 cells a user has, the rest go on in pairs),
    /// drained when full and at the end; each drain holds at most `capacity` pairs counted plus those of
    /// the rows still staged (`capacity / 2` at most), and hands a user's cells out together.
    @Test func theCounterAddsUpWithUsersBeyondTheirCellsAndDrainsWhenFull() {
        var state: UInt64 = 5
        func next() -> UInt64 {  // splitmix64, fixed seed
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var counter = PseudonymGroupCounter(capacity: 10_000)
        var expected: [String: Int64] = [:]
        var counted: [PseudonymGroupCount] = []
        var drains = 0
        var usersChecked = 0
        // A user's rows from its cells (its first 8 keys) come out of a drain together.
        func drain() {
            let rows = counter.drain()
            #expect(rows.count > 0 && rows.count <= 10_000 + 10_000 / 2)
            #expect(counter.isEmpty && !counter.isFull)
            var positions: [Pseudonym: [Int]] = [:]
            for (position, row) in rows.enumerated() { positions[row.pseudonym, default: []].append(position) }
            for (pseudonym, at) in positions {
                let cells = at.prefix(PseudonymGroupCounter.cellsPerUser)
                #expect(cells.last! - cells.first! + 1 == cells.count, "\(pseudonym.hex)")
            }
            usersChecked += positions.count
            counted += rows
            drains += 1
        }
        for _ in 0..<200_000 {
            let user = next() % 5_000
            let key = EventGroupKey.number(Int64(next() % (1 + user % 20)))
            let pseudonym = Pseudonym(high: user / 7, low: user)
            counter.add(pseudonym, key: key)
            expected["\(pseudonym.hex) \(key)", default: 0] += 1
            if counter.isFull { drain() }
        }
        drain()
        #expect(drains > 1)
        #expect(usersChecked > 5_000)
        #expect(counter.isEmpty)
        #expect(Self.totals(counted) == expected)
    }

    /// Rows staged in their partitions and not yet counted are not lost: far below its capacity, the
    /// counter stages every row (2,000 users, 3 rows each, 31 staged per partition on average, 8,192
    /// before a partition counts), is neither empty nor full, and its drain hands every one on.
    @Test func stagedRowsAreCountedByTheDrain() {
        var counter = PseudonymGroupCounter()
        #expect(counter.stagedPerPartition == (1 << 20) / (2 * PseudonymGroupCounter.partitions))
        var expected: [String: Int64] = [:]
        for round in 0..<3 {
            for user in 0..<2_000 {
                let pseudonym = Pseudonym(high: UInt64(user) &* 0x9E37_79B9_7F4A_7C15, low: UInt64(user))
                let key = EventGroupKey.text(["books", "toys"][(user + round) % 2])
                counter.add(pseudonym, key: key)
                expected["\(pseudonym.hex) \(key)", default: 0] += 1
            }
        }
        #expect(!counter.isEmpty && !counter.isFull)
        let rows = counter.drain()
        #expect(Self.totals(rows) == expected)
        #expect(rows.count == expected.count, "one row per (pseudonym, key) within a drain")
        #expect(counter.isEmpty)
        #expect(counter.drain().isEmpty)
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
