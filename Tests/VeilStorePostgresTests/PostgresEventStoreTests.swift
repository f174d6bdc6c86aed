import Foundation
import PostgresNIO
import Synchronization
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
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

    /// The event store of `database`, sealing with a fresh audit key.
    static func store(_ database: VeilPostgresDatabase) -> PostgresEventStore {
        PostgresEventStore(
            chain: PostgresAuditChain(database: database, configuration: StoreConfiguration(sealer: AuditSigner(signingKey: .generate()))))
    }

    @Test func eventsArePartitionedByDay() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Self.store(database)
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

    @Test func eraseDeletesTheIdempotencyKeysToo() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Self.store(database)
        _ = try await store.commit(Self.batch([Self.event("x1", user: 5, at: Self.start), Self.event("x2", user: 6, at: Self.start)]))
        let erased = try await store.erase(Self.pseudonym(5)) { _ in AuditDraft(actor: "dpo", action: .subjectErase, details: [:]) }
        #expect(erased == ErasureCounts(events: 1, identities: 1))
        let resent = try await store.commit(Self.batch([Self.event("x1", user: 5, at: Self.start)]))
        #expect(resent.inserted == 1, "as with SQLite, an erased event sent again is stored again")
    }

    @Test func twoReplicasWritingTheSameNewDayAndUserAtOnceBothSucceed() async throws {
        let first = try await PostgresTestDatabase.migrated()
        defer { first.close() }
        let second = try await VeilPostgresDatabase.open(first.location)
        defer { second.close() }
        let stores = [Self.store(first), Self.store(second)]
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
