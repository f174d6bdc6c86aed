import Foundation
import Testing
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
}
