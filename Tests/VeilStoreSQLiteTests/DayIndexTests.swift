import Foundation
import GRDB
import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// The `events_day_pid` index and what is built on it (SQLite only: the ordering and idempotency
/// contracts are in `VeilStoreContract`): reads by pseudonym and filtered scans seek the days they
/// need, and the writer's memory of vault rows stays true.
@Suite struct DayIndexTests {
    private static func plan(_ sql: String, _ arguments: StatementArguments, in database: VeilDatabase) async throws -> [String] {
        try await database.read("test.plan") { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
        }
    }

    @Test func readsByPseudonymSeekTheDayIndex() async throws {
        let dir = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: dir.path)
        _ = try await fixture.events.commit(batch((0..<100).map { event("d-\($0)", UInt64($0 % 10), at: Int64($0) * 3_600_000) }))
        let plan = try await Self.plan(
            """
            \(EventSchema.daysCTE)
            SELECT \(EventColumn.selectList) FROM days CROSS JOIN events WHERE \(EventSchema.eventOnDay) AND events.pid = ?
            """, [Data(count: 16)], in: fixture.database)
        #expect(plan.contains { $0.contains("SEARCH events USING INDEX events_day_pid") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN events") }, "\(plan)")
    }

    /// A query's date range is pushed into the store: SQLite seeks the range's days in the index
    /// instead of reading every event (before, `veil query --from --to` scanned the whole table).
    @Test func aTimeFilteredScanSeeksOnlyItsDays() async throws {
        let dir = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: dir.path)
        let day: Int64 = 86_400_000
        let (sql, _, _) = try #require(SQLiteEventStore.scanStatement(EventFilter(time: (3 * day)..<(5 * day), types: [.purchase])))
        let plan = try await Self.plan(sql, [3, 4, 3 * day, 5 * day], in: fixture.database)
        #expect(plan.contains { $0.contains("SEARCH events USING INDEX events_day_pid") }, "\(plan)")
        let unfiltered = try #require(SQLiteEventStore.scanStatement(.all))
        #expect(try await Self.plan(unfiltered.sql, [], in: fixture.database).contains { $0.hasPrefix("SCAN events") })
        #expect(SQLiteEventStore.scanStatement(EventFilter(time: 5..<5))?.sql == nil)
        #expect(SQLiteEventStore.scanStatement(EventFilter(types: []))?.sql == nil)
    }

    /// The writer remembers which pseudonyms have a vault row; an erasure by another connection (here a
    /// second store on the same directory, as `veil erase` beside `veil serve`) must not leave it
    /// believing a deleted row is still there.
    @Test func anErasureByAnotherConnectionIsNoticed() async throws {
        let dir = ScratchDirectory()
        let serving = try SQLiteFixture(directory: dir.path).events
        let first = try await serving.commit(batch([event("a", 1, at: 1), event("b", 2, at: 1)]))
        #expect(first.newIdentities == 2)
        let remembered = try await serving.commit(batch([event("c", 1, at: 2)]))
        #expect(remembered.newIdentities == 0)

        let other = try SQLiteFixture(directory: dir.path).events
        #expect(try await other.erase(pid(1), audit: erasure) == ErasureCounts(events: 2, identities: 1))

        let returning = try await serving.commit(batch([event("d", 1, at: 3), event("e", 2, at: 3)]))
        #expect(returning == BatchCommit(inserted: 2, duplicates: 0, newIdentities: 1))
        #expect(try await serving.identity(for: pid(1)) != nil)
    }
}
