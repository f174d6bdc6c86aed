import Foundation
import PostgresNIO
import Testing
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// The event schema's migration to byte-order text (v7) on a database holding events, and the
/// writer's units: several batches written as one, ids claimed by COPY or, when some are stored
/// already, with ON CONFLICT.
@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresWriteUnitTests {
    typealias Fixture = PostgresEventStoreTests

    /// Ids whose byte order differs from the order of most locales (case, accents, digits).
    static let ids = ["b", "B", "a", "é", "e", "ev-10", "ev-2", "Z"]

    @Test func migratingFromVersion6KeepsEveryEventAndIdsStillDeduplicate() async throws {
        let location = try await PostgresTestDatabase.fresh()
        let old = try await VeilPostgresDatabase.connectForAdministration(location)
        #expect(try await PostgresSchema.migrate(old, through: 6) == [1, 2, 3, 4, 5, 6])
        let events = Self.ids.enumerated().map { index, id in
            Fixture.event(id, user: UInt64(index % 3), at: Fixture.start + Int64(index % 2) * Fixture.day + Int64(index))
        }
        let before = try await Fixture.store(old).commit(Fixture.batch(events))
        #expect(before.inserted == events.count)
        #expect(try await Self.collation(of: "event_id", in: "event_ids", old) == nil)
        old.close()

        let (migrating, applied) = try await VeilPostgresDatabase.migrate(location)
        migrating.close()
        #expect(applied == Array(7...PostgresSchema.latest))
        let database = try await VeilPostgresDatabase.open(location)
        defer { database.close() }
        for (table, column) in [("event_ids", "event_id"), ("events", "event_id"), ("events", "category"), ("tokens", "name")] {
            #expect(try await Self.collation(of: column, in: table, database) == "C", "\(table).\(column)")
        }
        // The day partitions made before the migration changed with their parent.
        for day in try await EventPartitions(database: database).existingDays() {
            #expect(try await Self.collation(of: "event_id", in: EventPartitions.tableName(day: day), database) == "C")
        }
        let store = Fixture.store(database)
        #expect(try await store.eventCount() == events.count)
        #expect(try await store.identityCount() == 3)
        for user in 0..<3 {
            #expect(Set(try await store.events(for: Fixture.pseudonym(UInt64(user))).map(\.eventID)) == Set(events.filter { $0.pseudonym == Fixture.pseudonym(UInt64(user)) }.map(\.eventID)))
        }
        let resent = try await store.commit(Fixture.batch(events + [Fixture.event("new", user: 9, at: Fixture.start)]))
        #expect(resent == BatchCommit(inserted: 1, duplicates: events.count, newIdentities: 1))
        #expect(try await store.eventCount() == events.count + 1)
    }

    @Test func aUnitOfBatchesCountsEachBatchAsIfWrittenAlone() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        let store = Fixture.store(database)
        _ = try await store.commit(Fixture.batch([Fixture.event("stored", user: 1, at: Fixture.start)]))
        let writer = PostgresBatchWriter(logger: database.logger)
        let first = Fixture.batch([
            Fixture.event("x", user: 1, at: Fixture.start + 1), Fixture.event("y", user: 2, at: Fixture.start + 2),
            Fixture.event("x", user: 2, at: Fixture.start + 3),
        ])
        let second = Fixture.batch([
            Fixture.event("y", user: 3, at: Fixture.start + 4), Fixture.event("stored", user: 3, at: Fixture.start + 5),
            Fixture.event("z", user: 3, at: Fixture.start + Fixture.day),
            // User 2's identity is escrowed by the first batch, which holds it first: not again here.
            Fixture.event("w", user: 2, at: Fixture.start + 6),
        ])
        // With COPY first (which meets "stored" and falls back) and with ON CONFLICT alone: the same.
        for copyClaim in [true, false] {
            try await EventPartitions(database: database).ensure(days: [Fixture.start / Fixture.day, Fixture.start / Fixture.day + 1])
            var results: [BatchCommit] = []
            do {
                _ = try await database.withTransaction("write a unit") { connection -> Bool in
                    throw CallerError(error: RolledBack(results: try await writer.store([first, second], connection, copyClaim: copyClaim)))
                }
            } catch let error as RolledBack {
                results = error.results
            }
            #expect(results == [
                BatchCommit(inserted: 2, duplicates: 1, newIdentities: 1),
                BatchCommit(inserted: 2, duplicates: 2, newIdentities: 1),
            ], "copyClaim: \(copyClaim)")
        }
        #expect(try await store.eventCount() == 1, "both units were rolled back")
        // Committed: the events are those of the first occurrences, each once.
        let results = try await database.withTransaction("write a unit") { connection in
            try await writer.store([first, second], connection, copyClaim: true)
        }
        #expect(results.map(\.inserted) == [2, 2])
        let stored = try await store.events(for: Fixture.pseudonym(2)) + store.events(for: Fixture.pseudonym(3))
        #expect(stored.map(\.eventID).sorted() == ["w", "y", "z"])
        #expect(try await store.eventCount() == 5)
    }

    @Test func aUnitIsCopiedInPseudonymOrderKeepingEachUsersOrder() {
        let events = [(5, "a"), (1, "b"), (5, "c"), (3, "d"), (1, "e")].map { user, id in
            Fixture.event(id, user: UInt64(user), at: Fixture.start)
        }
        let ordered = PostgresBatchWriter.inPseudonymOrder(events.map(\.pseudonym)).map { events[$0] }
        #expect(ordered.map(\.pseudonym) == ordered.map(\.pseudonym).sorted())
        for user in [1, 3, 5] {
            let pseudonym = Fixture.pseudonym(UInt64(user))
            #expect(ordered.filter { $0.pseudonym == pseudonym }.map(\.eventID) == events.filter { $0.pseudonym == pseudonym }.map(\.eventID))
        }
    }

    struct RolledBack: Error {
        let results: [BatchCommit]
    }

    /// The collation of `table.column` when it is not the database's default; nil when it is.
    static func collation(of column: String, in table: String, _ database: VeilPostgresDatabase) async throws -> String? {
        try await database.withConnection("read a column's collation") { connection in
            var name: String?
            for try await value in try await connection.query(
                "SELECT collation_name FROM information_schema.columns WHERE table_name = \(table) AND column_name = \(column)",
                logger: database.logger
            ).decode(String?.self) { name = value }
            return name
        }
    }
}


/// The writer finds a claimed id among the unit's ids (in `ExactText.order`) by its bytes alone.
@Suite struct PostgresClaimIndexTests {
    @Test func anIdIsFoundInOrderedIdsOnlyByItsBytes() {
        let ids = ["", "a", "ab", "b", "B", "\u{E9}", "e\u{301}", "e", "ev-10", "ev-2", "\u{10FFFF}"]
        let ordered = ids.sorted { ExactText.order($0, $1) < 0 }
        for (index, id) in ordered.enumerated() { #expect(PostgresBatchWriter.index(of: id, in: ordered) == index) }
        #expect(PostgresBatchWriter.index(of: "c", in: ordered) == nil)
        let withoutDecomposed = ordered.filter { Array($0.utf8) != Array("e\u{301}".utf8) }
        #expect(PostgresBatchWriter.index(of: "e\u{301}", in: withoutDecomposed) == nil)  // though its twin "\u{E9}" is there
    }
}
