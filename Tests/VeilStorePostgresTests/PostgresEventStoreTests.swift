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

    /// The events' ids a scan of `store` (`lanes` connections) hands over, each once; `between` runs
    /// after the first lane took its snapshot and before the others begin.
    static func scannedIDs(
        _ store: PostgresEventStore, lanes: Int, sharingSnapshot: Bool, between: @Sendable () async throws -> Void = {}
    ) async throws -> [String] {
        let ids = Mutex<[String]>([])
        try await store.scanner.run(.all, chunkSize: 7, lanes: lanes, sharingSnapshot: sharingSnapshot, beforeOtherLanes: between) { chunk in
            ids.withLock { $0 += chunk.map(\.eventID) }
        }
        return ids.withLock { $0 }
    }

    /// A batch of `size` events of users 0..<size (pseudonyms in both halves of the pseudonym space,
    /// so both lanes of a two-lane scan read some of each batch), ids `tag-0`, `tag-1`, ….
    static func spanningBatch(_ tag: String, size: Int = 24, days: Int = 1) -> EventBatchWrite {
        batch((0..<size).map { event("\(tag)-\($0)", user: UInt64($0), at: start + Int64($0 % days) * day + Int64($0) * 1_000) })
    }

    /// A two-lane scan reads one snapshot: a batch committed after the first lane took its snapshot and
    /// before the second began is not seen at all — with the snapshot shared. The same scan with each
    /// lane on a snapshot of its own sees part of that batch (the second lane's half), which is what
    /// the sharing prevents.
    @Test func aTwoLaneScanReadsOneSnapshot() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Self.store(database)
        let firstBytes = Set((0..<24).map { Self.pseudonym(UInt64($0)).high >> 56 })
        try #require(firstBytes.contains { $0 < 128 } && firstBytes.contains { $0 >= 128 }, "the batch spans both lanes")
        _ = try await store.commit(Self.spanningBatch("before"))
        let before = Set((0..<24).map { "before-\($0)" })

        let shared = try await Self.scannedIDs(store, lanes: 2, sharingSnapshot: true) {
            _ = try await store.commit(Self.spanningBatch("between-shared"))
        }
        #expect(shared.count == Set(shared).count, "each event once")
        #expect(Set(shared) == before, "the batch committed between the lanes' starts is not seen")

        let separate = try await Self.scannedIDs(store, lanes: 2, sharingSnapshot: false) {
            _ = try await store.commit(Self.spanningBatch("between-separate"))
        }
        let halfSeen = separate.filter { $0.hasPrefix("between-separate-") }.count
        #expect(halfSeen > 0 && halfSeen < 24, "without the shared snapshot the second lane sees its part of the batch")
    }

    /// Over many days each lane reads whole partitions of its own (`LanePlan`), and still one snapshot:
    /// the batch committed between the lanes' starts, on the same days, is not seen with the snapshot
    /// shared, and is seen on the second lane's days without it.
    @Test func aTwoLaneScanOverManyDaysReadsWholePartitionsPerLaneAndOneSnapshot() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Self.store(database)
        _ = try await store.commit(Self.spanningBatch("before", days: 8))
        let partitions = try await database.withConnection("list partitions") { connection in
            try await PostgresSnapshotScan.partitions(.all, connection, logger: database.logger)
        }
        #expect(partitions.count == 8)
        let plan = LanePlan(partitions: partitions, lanes: 2)
        #expect(plan.reads.map(\.count) == [4, 4], "every day whole on one lane: \(plan.reads)")
        #expect(plan.reads.joined().allSatisfy { $0.firstBytes == nil })

        let shared = try await Self.scannedIDs(store, lanes: 2, sharingSnapshot: true) {
            _ = try await store.commit(Self.spanningBatch("between-shared", days: 8))
        }
        #expect(shared.count == Set(shared).count, "each event once")
        #expect(Set(shared) == Set((0..<24).map { "before-\($0)" }), "the batch committed between the lanes' starts is not seen")

        let separate = try await Self.scannedIDs(store, lanes: 2, sharingSnapshot: false) {
            _ = try await store.commit(Self.spanningBatch("between-separate", days: 8))
        }
        let seen = separate.filter { $0.hasPrefix("between-separate-") }.count
        #expect(seen == 12, "without the shared snapshot the second lane sees the batch on its 4 of 8 days")
    }

    /// Scans while batches commit: every scan sees each batch whole or not at all, each event once,
    /// and every batch committed before it started.
    @Test func scansDuringCommitsSeeWholeBatches() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Self.store(database)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<30 { _ = try await store.commit(Self.spanningBatch("b\(index)")) }
            }
            group.addTask {
                for _ in 0..<12 {
                    let floor = try await store.eventCount() / 24
                    let ids = Mutex<[String]>([])
                    try await store.scan(.all, chunkSize: 5) { chunk in ids.withLock { $0 += chunk.map(\.eventID) } }
                    let seen = ids.withLock { $0 }
                    #expect(seen.count == Set(seen).count, "each event once")
                    let perBatch = Dictionary(grouping: seen) { $0.split(separator: "-").first.map(String.init) ?? "" }
                    #expect(perBatch.values.allSatisfy { $0.count == 24 }, "whole batches only")
                    #expect(perBatch.count >= floor, "every batch committed before the scan")
                }
            }
            try await group.waitForAll()
        }
    }

    /// A store writes two groups at once (`writeLanes`): a batch whose `event_id` another transaction
    /// holds waits for that transaction, and a batch sent meanwhile commits on the second lane instead of
    /// queueing behind it. (With one group at a time, the second `commit` waited for the first.)
    @Test func aBatchCommitsWhileAnotherWaitsForAnIDHeldElsewhere() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Self.store(database)
        _ = try await store.commit(Self.batch([Self.event("warm", user: 1, at: Self.start)]))
        let (held, holding) = AsyncStream.makeStream(of: Void.self)
        let release = Gate()
        struct RolledBack: Error {}
        let holder = Task {
            _ = try? await database.withTransaction("hold an event id") { connection -> Bool in
                try await connection.query("INSERT INTO event_ids (event_id) VALUES ('held')", logger: database.logger).drain()
                holding.yield()
                await release.wait()
                throw RolledBack()
            }
        }
        var heldSignals = held.makeAsyncIterator()
        await heldSignals.next()
        async let waiting = store.commit(Self.batch([Self.event("held", user: 1, at: Self.start + 1)]))
        try await Self.untilABackendWaitsForALock(database)
        let second = try await store.commit(Self.batch([Self.event("free", user: 2, at: Self.start + 2)]))
        #expect(second == BatchCommit(inserted: 1, duplicates: 0, newIdentities: 1))
        release.open()
        await holder.value
        #expect(try await waiting == BatchCommit(inserted: 1, duplicates: 0, newIdentities: 0), "the holder rolled back")
        #expect(try await store.eventCount() == 3)
    }

    /// Returns once some backend of `database`'s database waits for a lock (polls `pg_stat_activity`).
    static func untilABackendWaitsForALock(_ database: VeilPostgresDatabase) async throws {
        while true {
            let waiting = try await database.withConnection("look for a waiting backend") { connection in
                var count = 0
                for try await value in try await connection.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    logger: database.logger
                ).decode(Int.self) { count = value }
                return count
            }
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// How a scan's lanes share the day partitions: whole, but the largest, which the lanes short of an
/// even share read by the first byte of the pseudonym.
struct LanePlanTests {
    typealias Partition = LanePlan.Partition
    typealias Read = LanePlan.Read

    /// Each lane's bytes under `plan` (a part of a partition in proportion to its first bytes).
    static func loads(_ plan: LanePlan, _ partitions: [Partition]) -> [Double] {
        let bytes = Dictionary(uniqueKeysWithValues: partitions.map { ($0.day, Double($0.bytes)) })
        return plan.reads.map { reads in
            reads.reduce(0) { $0 + bytes[$1.day]! * Double($1.firstBytes?.count ?? 256) / 256 }
        }
    }

    @Test func wholePartitionsGoLargestFirstToTheLaneWithTheLeastAndTheLargestFillsTheRest() {
        let partitions = [Partition(day: 1, bytes: 50), Partition(day: 2, bytes: 40), Partition(day: 3, bytes: 30), Partition(day: 4, bytes: 30),
                          Partition(day: 5, bytes: 20), Partition(day: 6, bytes: 10)]
        let plan = LanePlan(partitions: partitions, lanes: 2)
        // Without day 1: 40, 20, 10 | 30, 30 → 70 and 60; day 1's 50 bytes make up 20 and 30 of 90 each.
        #expect(plan.reads == [
            [Read(day: 2, firstBytes: nil), Read(day: 5, firstBytes: nil), Read(day: 6, firstBytes: nil), Read(day: 1, firstBytes: 0..<102)],
            [Read(day: 3, firstBytes: nil), Read(day: 4, firstBytes: nil), Read(day: 1, firstBytes: 102..<256)],
        ])
        #expect(Self.loads(plan, partitions).allSatisfy { abs($0 - 90) < 0.5 })
        let statements = (0..<2).flatMap { plan.statements(.all, lane: $0).map(\.sql) }
        #expect(statements.count == 7 && statements.allSatisfy { $0.contains("FROM events_d") })
        #expect(statements.filter { $0.contains("get_byte(pid, 0) >= 0 AND get_byte(pid, 0) < 102") }.count == 1)
        #expect(statements.filter { $0.contains("get_byte(pid, 0) >= 102 AND get_byte(pid, 0) < 256") }.count == 1)
    }

    @Test func equalDaysAreReadWholeAndAPartialLastDayNoLongerUnbalancesTheLanes() {
        let even = LanePlan(partitions: (1...8).map { Partition(day: $0, bytes: 10) }, lanes: 2)
        #expect(even.reads.map(\.count) == [4, 4] && even.reads.joined().allSatisfy { $0.firstBytes == nil })
        // 1 M events one second apart: 11 days of 86,400 and one of 49,600. Whole days gave 518,400 and 481,600.
        let days = (1...11).map { Partition(day: $0, bytes: 86_400) } + [Partition(day: 12, bytes: 49_600)]
        let loads = Self.loads(LanePlan(partitions: days, lanes: 2), days)
        #expect(loads.allSatisfy { abs($0 - 500_000) < 400 }, "\(loads)")
    }

    @Test func aDayMuchLargerThanTheRestOrFewerDaysThanLanesAreSharedByPseudonym() {
        // One day much larger than the rest: each lane reads a whole small day and part of the large one.
        let skewed = [Partition(day: 1, bytes: 100), Partition(day: 2, bytes: 20), Partition(day: 3, bytes: 10)]
        let plan = LanePlan(partitions: skewed, lanes: 2)
        #expect(plan.reads.map { $0.map(\.day) } == [[2, 1], [3, 1]])
        #expect(Self.loads(plan, skewed).allSatisfy { abs($0 - 65) < 0.5 })
        // One day, two lanes: its pseudonyms in halves; no day, no reads.
        #expect(LanePlan(partitions: [Partition(day: 1, bytes: 100)], lanes: 2).reads
            == [[Read(day: 1, firstBytes: 0..<128)], [Read(day: 1, firstBytes: 128..<256)]])
        #expect(LanePlan(partitions: [], lanes: 2).reads == [[], []])
        // Every first byte of a shared day goes to exactly one lane.
        for lanes in 2...4 {
            let shares = LanePlan(partitions: skewed, lanes: lanes).reads.joined().filter { $0.day == 1 }.map { $0.firstBytes ?? 0..<256 }
            #expect(shares.reduce(0) { $0 + $1.count } == 256 && zip(shares, shares.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        }
    }
}
