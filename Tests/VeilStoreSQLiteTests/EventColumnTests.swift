import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// `EventColumn` is the one definition of the event row; it must be the table the migrations build.
@Suite struct EventColumnTests {
    @Test func columnsArePositionedAsTheMigratedTable() throws {
        let scratch = ScratchDirectory()
        let database = try VeilDatabase(directory: scratch.path)
        let table = try database.pool.read { db in
            try db.columns(in: "events").map(\.name)
        }
        #expect(table == EventColumn.allCases.map(\.name))
        #expect(EventColumn.allCases.map(\.position) == Array(1...Int32(table.count)))
        #expect(EventColumn.selectList == "events.rowid, " + table.joined(separator: ", "))
    }

    /// A read of some fields selects their columns and the four every read needs, nothing else (not even
    /// a constant in place of the others: that still cost SQLite a result value per column and row).
    @Test func aSelectionListsOnlyTheColumnsItReads() {
        let categories = EventSelection(reading: [.category])
        #expect(categories.sql == "events.rowid, pid, epoch, type, ts_ms, category")
        #expect(categories.result(.category) == 5 && categories.result(.timestamp) == 4)
        #expect(categories.result(.eventID) == nil && categories.result(.price) == nil)
        #expect(EventSelection(reading: []).columns == [.pid, .epoch, .type, .timestamp])
        #expect(EventSelection.all.columns == EventColumn.allCases)
        #expect(EventColumn.allCases.allSatisfy { EventSelection.all.result($0) == $0.position })
    }

    /// A scan that names the fields it needs reads only those (and the ones every read needs); the
    /// others come back empty, and which events are read does not change.
    @Test func aScanReadsOnlyTheFieldsItNames() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        var purchase = event("e2", 2, at: 2_000, type: .purchase)
        purchase.rating = 4
        purchase.query = "socks"
        purchase.properties = ["basket": 3]
        _ = try await fixture.events.commit(batch([event("e1", 1, at: 1_000), purchase]))
        let everything = try await scanned(fixture.events, EventFilter())
        #expect(everything == [event("e1", 1, at: 1_000), purchase])

        let categories = try await scanned(fixture.events, EventFilter(fields: [.category]))
        #expect(categories.map(\.eventID) == ["", ""])
        #expect(categories.map(\.category) == ["books", "books"])
        #expect(categories.allSatisfy { $0.session == nil && $0.itemID == nil && $0.price == nil && $0.quantity == nil })
        #expect(categories.allSatisfy { $0.rating == nil && $0.query == nil && $0.properties.isEmpty })
        #expect(categories.map(\.pseudonym) == [pid(1), pid(2)] && categories.map(\.type) == [.view, .purchase])
        #expect(categories.map(\.timestampMillis) == [1_000, 2_000] && categories.allSatisfy { $0.epoch == 1 })

        let values = try await scanned(fixture.events, EventFilter(types: [.purchase], fields: [.price, .quantity, .session]))
        #expect(values.count == 1 && values[0].price == 9.5 && values[0].quantity == 2 && values[0].session == pid(99))
        #expect(values[0].category == nil && values[0].rating == nil && values[0].properties.isEmpty)
    }

    /// The writer binds every row's text and blobs from one reused buffer (`RowParameters`): each
    /// event reads back as it was written, whether its values are longer than the buffer, empty,
    /// absent where the event before had them, or not ASCII.
    @Test func eachRowIsStoredWithItsOwnValuesFromTheReusedBuffer() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        var long = event("e1-" + String(repeating: "x", count: 3_000), 1, at: 1_000, type: .search)
        long.query = String(repeating: "wool socks ", count: 400)
        long.category = "Bücher · 本"
        long.properties = ["basket": 3, "coupon": 0.5]
        var bare = event("e2", 2, at: 2_000)
        bare.session = nil
        bare.itemID = nil
        bare.category = nil
        bare.price = nil
        bare.quantity = nil
        var empty = event("e3", 3, at: 3_000, type: .search)
        empty.query = ""
        empty.itemID = ""
        let written = [long, bare, empty, event("e4", 4, at: 4_000)]
        let result = try await fixture.events.commit(batch(written))
        #expect(result.inserted == 4)
        #expect(try await scanned(fixture.events, EventFilter()) == written)
        #expect(try await fixture.events.events(for: pid(3)) == [empty])
    }

    private func scanned(_ store: SQLiteEventStore, _ filter: EventFilter) async throws -> [StoredEvent] {
        let events = Mutex<[StoredEvent]>([])
        try await store.scan(filter, chunkSize: 10) { chunk in events.withLock { $0 += chunk } }
        return events.withLock { $0 }.sorted { $0.timestampMillis < $1.timestampMillis }
    }
}
