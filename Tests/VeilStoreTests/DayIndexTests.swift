import Foundation
import GRDB
import Testing
import VeilCore
@testable import VeilStore

/// The `events_day_pid` index and what is built on it: reads by pseudonym seek each stored day, the
/// chunked scan reads ranges of pseudonyms, and the writer's memory of vault rows stays true.
@Suite struct DayIndexTests {
    /// A pseudonym spread over the whole space, as real (keyed-hash) pseudonyms are.
    static func spread(_ n: UInt64) -> Pseudonym {
        var x = n &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return Pseudonym(high: x ^ (x >> 31), low: n)
    }

    /// `count` events of `users` spread pseudonyms over `days` days, in time order.
    static func events(_ count: Int, users: UInt64, days: Int64) -> [StoredEvent] {
        let step = days * 86_400_000 / Int64(count)
        return (0..<count).map { n in
            var e = event("d-\(n)", 0, at: 1_700_000_000_000 + Int64(n) * step)
            e.pseudonym = spread(UInt64(n) % users &* 7_919 % users)
            return e
        }
    }

    @Test(arguments: [1, 7, 64, 500, 5_000])
    func theChunkedScanReturnsEveryEventOnceInPseudonymOrder(limit: Int) async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let stored = Self.events(3_000, users: 257, days: 40)
        _ = try await store.commit(batch(stored))
        var seen: [StoredEvent] = []
        var chunks = 0
        var cursor: EventCursor? = nil
        repeat {
            let chunk = try await store.events(after: cursor, limit: limit)
            #expect(chunk.events.count <= limit)
            #expect(!chunk.events.isEmpty || chunk.next == nil, "only the last chunk may be empty")
            seen += chunk.events
            cursor = chunk.next
            chunks += 1
        } while cursor != nil
        #expect(seen.count == stored.count)
        #expect(Set(seen.map(\.eventID)) == Set(stored.map(\.eventID)))
        let keys = seen.map { ($0.pseudonym, $0.timestampMillis) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 <= $1 })
        // Ranges are sized to the chunk: not many more chunks than the minimum.
        #expect(chunks <= 3 * (stored.count + limit - 1) / limit + 2)
    }

    @Test func aScanOfAnEmptyStoreEndsAtOnce() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let chunk = try await store.events(after: nil, limit: 10)
        #expect(chunk.events.isEmpty && chunk.next == nil)
    }

    @Test func aUsersEventsAcrossManyDaysComeBackInTimeOrder() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let stored = Self.events(2_000, users: 50, days: 200)
        _ = try await store.commit(batch(stored.shuffled()))
        for user in [Self.spread(0), Self.spread(17), Self.spread(49)] {
            let expected = stored.filter { $0.pseudonym == user }.sorted { $0.timestampMillis < $1.timestampMillis }
            #expect(expected.count == 40)
            #expect(try await store.events(for: user) == expected)
        }
        #expect(try await store.erase(Self.spread(17)) == ErasureCounts(events: 40, identities: 1))
        #expect(try await store.events(for: Self.spread(17)) == [])
        #expect(try await store.eventCount() == 1_960)
    }

    @Test func readsByPseudonymSeekTheDayIndex() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        _ = try await store.commit(batch(Self.events(100, users: 10, days: 5)))
        let plan = try await store.database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    EXPLAIN QUERY PLAN \(EventSchema.daysCTE)
                    SELECT \(EventColumn.selectList) FROM days CROSS JOIN events WHERE \(EventSchema.eventOnDay) AND events.pid = ?
                    """,
                arguments: [Data(count: 16)]
            ).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("SEARCH events USING INDEX events_day_pid") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN events") }, "\(plan)")
    }

    /// The writer remembers which pseudonyms have a vault row; an erasure by another connection (here a
    /// second store on the same directory, as `veil erase` beside `veil serve`) must not leave it
    /// believing a deleted row is still there.
    @Test func anErasureByAnotherConnectionIsNoticed() async throws {
        let dir = ScratchDirectory()
        let serving = try SQLiteEventStore(directory: dir.path)
        let first = try await serving.commit(batch([event("a", 1, at: 1), event("b", 2, at: 1)]))
        #expect(first.newIdentities == 2)
        let remembered = try await serving.commit(batch([event("c", 1, at: 2)]))
        #expect(remembered.newIdentities == 0)

        let other = try SQLiteEventStore(directory: dir.path)
        #expect(try await other.erase(pid(1)) == ErasureCounts(events: 2, identities: 1))

        let returning = try await serving.commit(batch([event("d", 1, at: 3), event("e", 2, at: 3)]))
        #expect(returning == BatchCommit(inserted: 2, duplicates: 0, newIdentities: 1))
        #expect(try await serving.identity(for: pid(1)) != nil)
    }

    /// A transaction that failed may have taught the writer pseudonyms whose vault rows were rolled back.
    @Test func aFailedTransactionLeavesNoFalseMemory() async throws {
        struct EscrowFailed: Error {}
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let failing = EventBatchWrite(events: [event("a", 1, at: 1), event("b", 2, at: 1)], dataKey: testKey) { p in
            if p == pid(2) { throw EscrowFailed() }
            return VaultRecord(pseudonym: p, epoch: 1, dataKeyID: "k1", nonce: [1], ciphertext: [2])
        }
        await #expect(throws: EscrowFailed.self) { try await store.commit(failing) }
        let retried = try await store.commit(batch([event("a", 1, at: 1)]))
        #expect(retried == BatchCommit(inserted: 1, duplicates: 0, newIdentities: 1))
        #expect(try await store.identity(for: pid(1)) != nil)
    }
}
