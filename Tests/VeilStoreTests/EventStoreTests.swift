import Foundation
import Testing
import VeilCore
@testable import VeilStore

/// A scratch data directory, removed at the end of the test.
final class ScratchDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "veil-store-\(UUID().uuidString)"
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func pid(_ n: UInt64) -> Pseudonym { Pseudonym(high: n, low: ~n) }

func event(_ id: String, _ user: UInt64, at ts: Int64, type: EventType = .view) -> StoredEvent {
    StoredEvent(
        eventID: id, pseudonym: pid(user), epoch: 1, type: type, timestampMillis: ts, session: pid(99),
        itemID: "sku-1", category: "books", price: 9.5, quantity: 2, rating: nil, query: nil)
}

let testKey = DataKeyRecord(id: "k1", sealed: [UInt8](repeating: 7, count: 80), created: Date(timeIntervalSince1970: 0))

func batch(_ events: [StoredEvent]) -> EventBatchWrite {
    EventBatchWrite(events: events, dataKey: testKey) { pseudonym in
        VaultRecord(pseudonym: pseudonym, epoch: 1, dataKeyID: "k1", nonce: [1, 2, 3], ciphertext: [4, 5, 6])
    }
}

@Suite struct EventStoreTests {
    @Test func commitCountsDuplicatesWithinAndAcrossBatches() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let first = try await store.commit(batch([event("a", 1, at: 10), event("b", 1, at: 20), event("a", 1, at: 30)]))
        #expect(first == BatchCommit(inserted: 2, duplicates: 1, newIdentities: 1))
        let second = try await store.commit(batch([event("b", 1, at: 20), event("c", 2, at: 5)]))
        #expect(second == BatchCommit(inserted: 1, duplicates: 1, newIdentities: 1))
        #expect(try await store.eventCount() == 3)
        #expect(try await store.identityCount() == 2)
        #expect(try await store.dataKey(id: "k1") == testKey)
    }

    @Test func roundTripsEveryColumn() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        var full = event("x", 3, at: -5, type: .review)
        full.rating = 4
        full.query = "blue shoes"
        full.session = nil
        full.price = nil
        _ = try await store.commit(batch([full]))
        #expect(try await store.events(for: pid(3)) == [full])
        #expect(try await store.events(for: pid(4)) == [])
    }

    @Test func chunkedScanIsOrderedByPseudonymAndTime() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        var events: [StoredEvent] = []
        for n in 0..<50 { events.append(event("e\(n)", UInt64(n % 7), at: Int64((n * 37) % 11))) }
        _ = try await store.commit(batch(events))
        var seen: [StoredEvent] = []
        var chunks = 0
        try await store.forEachEventChunk(chunkSize: 8) { chunk in
            chunks += 1
            seen += chunk
        }
        #expect(chunks == 7)
        #expect(seen.count == 50)
        let keys = seen.map { ($0.pseudonym, $0.timestampMillis) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 || $0 == $1 })
        #expect(Set(seen.map(\.eventID)) == Set(events.map(\.eventID)))
    }

    @Test func latestEventTimeAndEventsInARange() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        #expect(try await store.latestEventMillis() == nil)
        #expect(try await store.containsEvents(in: 0..<Int64.max) == false)
        let day: Int64 = 86_400_000
        _ = try await store.commit(batch([event("a", 1, at: 3 * day + 5), event("b", 2, at: 10 * day + 7), event("c", 1, at: 10 * day + 2)]))
        #expect(try await store.latestEventMillis() == 10 * day + 7)
        #expect(try await store.containsEvents(in: (10 * day)..<(10 * day + 7)))
        #expect(try await store.containsEvents(in: (10 * day + 8)..<(11 * day)) == false)
        #expect(try await store.containsEvents(in: (4 * day)..<(10 * day)) == false)
        #expect(try await store.containsEvents(in: (3 * day + 5)..<(3 * day + 6)))
        #expect(try await store.containsEvents(in: (3 * day)..<(3 * day)) == false)
    }

    @Test func eraseDeletesEventsAndVaultRow() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        _ = try await store.commit(batch([event("a", 1, at: 1), event("b", 1, at: 2), event("c", 2, at: 3)]))
        #expect(try await store.erase(pid(1)) == ErasureCounts(events: 2, identities: 1))
        #expect(try await store.erase(pid(1)) == ErasureCounts(events: 0, identities: 0))
        #expect(try await store.eventCount() == 1)
        #expect(try await store.identity(for: pid(1)) == nil)
        #expect(try await store.identity(for: pid(2)) != nil)
        // A returning user is escrowed again.
        let again = try await store.commit(batch([event("d", 1, at: 4)]))
        #expect(again.newIdentities == 1)
    }

    @Test func failedBatchStoresNothing() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        struct Boom: Error {}
        let failing = EventBatchWrite(events: [event("a", 1, at: 1), event("b", 2, at: 1)], dataKey: testKey) { p in
            if p == pid(2) { throw Boom() }
            return VaultRecord(pseudonym: p, epoch: 1, dataKeyID: "k1", nonce: [1], ciphertext: [2])
        }
        await #expect(throws: Boom.self) { try await store.commit(failing) }
        #expect(try await store.eventCount() == 0)
        #expect(try await store.identityCount() == 0)
    }
}
