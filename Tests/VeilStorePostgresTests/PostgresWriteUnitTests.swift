import Foundation
import PostgresNIO
import Testing
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// The event schema's migration to byte-order text (v7) on a database holding events.
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
        #expect(applied == [7])
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
