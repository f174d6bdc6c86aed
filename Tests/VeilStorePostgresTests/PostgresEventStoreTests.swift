import Foundation
import PostgresNIO
import Synchronization
import Testing
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresEventStoreTests {
    static let day: Int64 = 86_400_000
    /// 2026-03-01T00:00:00Z.
    static let start: Int64 = 1_772_323_200_000

    static func pseudonym(_ n: UInt64) -> Pseudonym { Pseudonym(high: n &* 0x9E37_79B9_7F4A_7C15, low: n) }

    static func event(_ id: String, user: UInt64, at millis: Int64, type: EventType = .view, price: Double? = nil) -> StoredEvent {
        StoredEvent(
            eventID: id, pseudonym: pseudonym(user), epoch: 1, type: type, timestampMillis: millis, session: pseudonym(user + 1_000),
            itemID: "sku\t\\1\n", category: user % 2 == 0 ? "shoes" : nil, price: price, quantity: price == nil ? nil : 2, rating: nil,
            query: nil)
    }

    static func batch(_ events: [StoredEvent]) -> EventBatchWrite {
        EventBatchWrite(events: events, dataKey: DataKeyRecord(id: "dk1", sealed: [1, 2, 3], created: Date(timeIntervalSince1970: 1_700_000_000))) {
            pseudonym in
            VaultRecord(pseudonym: pseudonym, epoch: 1, dataKeyID: "dk1", nonce: [UInt8](repeating: 7, count: 24), ciphertext: pseudonym.bytes + [9])
        }
    }

    @Test func aBatchIsStoredWithItsValuesAndVaultRowsAndDuplicatesCounted() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = PostgresEventStore(database: database)
        let events = [
            Self.event("e1", user: 1, at: Self.start + 5, price: 19.99),
            Self.event("e2", user: 1, at: Self.start + 1),
            Self.event("e1", user: 1, at: Self.start + 9),  // the same id again in the batch
            Self.event("e3", user: 2, at: Self.start + 3 * Self.day),
        ]
        let result = try await store.commit(Self.batch(events))
        #expect(result == BatchCommit(inserted: 3, duplicates: 1, newIdentities: 2))
        let again = try await store.commit(Self.batch([Self.event("e3", user: 2, at: Self.start + 40 * Self.day)]))
        #expect(again == BatchCommit(inserted: 0, duplicates: 1, newIdentities: 0), "a known id on another day is a duplicate")

        let first = try await store.events(for: Self.pseudonym(1))
        #expect(first == [events[1], events[0]], "oldest first, values round-trip (escapes, price, session)")
        #expect(try await store.eventCount() == 3)
        #expect(try await store.identityCount() == 2)
        let vault = try await store.identity(for: Self.pseudonym(2))
        #expect(vault?.ciphertext == Self.pseudonym(2).bytes + [9] && vault?.dataKeyID == "dk1")
        #expect(try await store.dataKey(id: "dk1")?.sealed == [1, 2, 3])
        #expect(try await store.latestEventMillis() == Self.start + 3 * Self.day)
        #expect(try await store.containsEvents(in: (Self.start + 2 * Self.day)..<(Self.start + 4 * Self.day)))
        #expect(try await !store.containsEvents(in: (Self.start + Self.day)..<(Self.start + 2 * Self.day)))
    }

    @Test func eventsArePartitionedByDay() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = PostgresEventStore(database: database)
        let events = (0..<30).map { Self.event("p\($0)", user: UInt64($0), at: Self.start + Int64($0 % 3) * Self.day + 1_000) }
        _ = try await store.commit(Self.batch(events))
        let days = try await EventPartitions(database: database).existingDays().sorted()
        let first = Self.start / Self.day
        #expect(days == [first, first + 1, first + 2])
        let counts = try await database.withConnection("count a partition") { connection in
            var counts: [Int] = []
            for day in days {
                for try await count in try await connection.query(
                    "SELECT count(*) FROM \(unescaped: EventPartitions.tableName(day: day))", logger: database.logger
                ).decode(Int.self) { counts.append(count) }
            }
            return counts
        }
        #expect(counts == [10, 10, 10])
    }

    @Test func theScanReturnsEveryEventOnceInPseudonymTimeOrderInBoundedChunks() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = PostgresEventStore(database: database)
        var events: [StoredEvent] = []
        for n in 0..<500 {
            events.append(Self.event("s\(n)", user: UInt64(n % 37), at: Self.start + Int64(n % 5) * Self.day + Int64(n % 7)))
        }
        _ = try await store.commit(Self.batch(events))
        var seen: [StoredEvent] = []
        var cursor: EventCursor?
        repeat {
            let chunk = try await store.events(after: cursor, limit: 64)
            #expect(chunk.events.count <= 64)
            seen += chunk.events
            cursor = chunk.next
        } while cursor != nil
        #expect(seen.count == 500)
        #expect(Set(seen.map(\.eventID)).count == 500)
        let keys = seen.map { ($0.pseudonym, $0.timestampMillis) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 <= $1.1) })
    }

    @Test func eraseDeletesEventsVaultRowAndIdempotencyKeys() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = PostgresEventStore(database: database)
        _ = try await store.commit(Self.batch([Self.event("x1", user: 5, at: Self.start), Self.event("x2", user: 6, at: Self.start)]))
        let erased = try await store.erase(Self.pseudonym(5))
        #expect(erased == ErasureCounts(events: 1, identities: 1))
        #expect(try await store.events(for: Self.pseudonym(5)).isEmpty)
        #expect(try await store.identity(for: Self.pseudonym(5)) == nil)
        #expect(try await store.eventCount() == 1)
        let resent = try await store.commit(Self.batch([Self.event("x1", user: 5, at: Self.start)]))
        #expect(resent.inserted == 1, "as with SQLite, an erased event sent again is stored again")
    }

    @Test func commitAllIsAllOrNothing() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = PostgresEventStore(database: database)
        struct Stop: Error {}
        let batches = Mutex([
            Self.batch([Self.event("a1", user: 1, at: Self.start)]),
            Self.batch([Self.event("a2", user: 2, at: Self.start + 9 * Self.day)]),
        ])
        await expectError {
            _ = try await store.commitAll(next: {
                try batches.withLock { batches in
                    guard !batches.isEmpty else { throw Stop() }
                    return batches.removeFirst()
                }
            }, stored: { _ in })
        } matches: { $0 is Stop }
        #expect(try await store.eventCount() == 0)
        #expect(try await store.identityCount() == 0)

        let more = Mutex([Self.batch([Self.event("a1", user: 1, at: Self.start)]), Self.batch([Self.event("a2", user: 2, at: Self.start + 9 * Self.day)])])
        let total = try await store.commitAll(next: { more.withLock { $0.isEmpty ? nil : $0.removeFirst() } }, stored: { _ in })
        #expect(total == BatchCommit(inserted: 2, duplicates: 0, newIdentities: 2))
        #expect(try await store.eventCount() == 2)
    }

    @Test func twoReplicasWritingTheSameNewDayAndUserAtOnceBothSucceed() async throws {
        let first = try await PostgresTestDatabase.migrated()
        defer { first.close() }
        let second = try await VeilPostgresDatabase.open(first.location)
        defer { second.close() }
        let stores = [PostgresEventStore(database: first), PostgresEventStore(database: second)]
        let results = try await withThrowingTaskGroup(of: BatchCommit.self) { group in
            for (index, store) in stores.enumerated() {
                for round in 0..<4 {
                    group.addTask {
                        try await store.commit(
                            Self.batch((0..<50).map { Self.event("r\(index)-\(round)-\($0)", user: UInt64($0 % 10), at: Self.start + 20 * Self.day) }))
                    }
                }
            }
            return try await group.reduce(into: BatchCommit()) { $0 += $1 }
        }
        #expect(results.inserted == 400)
        #expect(try await stores[0].identityCount() == 10)
    }
}
