import Foundation
import Testing
import VeilCore

@testable import VeilIngest

/// Foreign exports through a mapping and the real importer and store (issue 17): header-less
/// whitespace files, expressions, type value maps with skip, problems grouped by rule, and the dry run's
/// preview.
@Suite struct MappedImportTests {
    func importer(_ fixture: Fixture, _ yaml: String, dryRun: Bool = false, skipInvalid: Bool = false) throws -> EventImporter {
        try importer(fixture, mapping: mapping(yaml), dryRun: dryRun, skipInvalid: skipInvalid)
    }

    func importer(_ fixture: Fixture, mapping: ImportMapping, dryRun: Bool = false, skipInvalid: Bool = false) throws -> EventImporter {
        var options = ImportOptions()
        options.mapping = mapping
        options.dryRun = dryRun
        options.skipInvalid = skipInvalid
        options.validationTasks = 2
        return try EventImporter(service: fixture.service(), options: options)
    }

    static let transactions = """
        delimiter: whitespace
        columns: [customer, date, quantity, amount]
        fields: {user_id: customer, timestamp: date, quantity: quantity, price: amount / quantity}
        constants: {type: purchase}
        timestamp: {format: "%Y%m%d"}
        """

    /// The amount is a line total: revenue (price × quantity) must equal the file's amounts, to the cent.
    @Test func aHeaderlessTransactionLogKeepsItsRevenue() async throws {
        let fixture = try Fixture()
        let lines = ["00001 19970101 1 11.77", "00002 19970112 1 12.00", "00002 19970112 5 77.00", "00003 19970102 3 20.76",
                     "00003 19970102 3 20.76", "00004 19970325 7 100.01"]
        let path = try fixture.file("cdnow.txt", lines.joined(separator: "\n") + "\n")
        let report = try await importer(fixture, Self.transactions).importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == 6 && report.types == ["purchase": 6])
        #expect(report.firstEvent == "1997-01-01T00:00:00Z" && report.lastEvent == "1997-03-25T00:00:00Z")
        var cents = 0
        for customer in ["00001", "00002", "00003", "00004"] {
            for event in try await fixture.store.events(for: fixture.pid(customer)) {
                cents += Int((event.price! * Double(event.quantity!) * 100).rounded())
            }
        }
        #expect(cents == 1177 + 1200 + 7700 + 2076 * 2 + 10001)
    }

    static let clickstream = """
        fields: {user_id: visitor, type: page, timestamp: ts, item_id: item}
        types: {home: skip, product: view, cart: add_to_cart, about: skip}
        timestamp: {format: epoch_millis}
        """

    @Test func problemsAreGroupedByRuleWithUnknownValuesAndAHint() async throws {
        let fixture = try Fixture()
        var lines = ["ts,visitor,page,item"]
        for index in 0..<1_000 {
            let page = ["home", "product", "cart", "wishlist", "compare"][index % 5]
            lines.append("\(1_700_000_000_000 + index),visitor-\(index % 7)@example.com,\(page),i\(index % 3)")
        }
        lines.append("1700000009999,visitor-x@example.com,visitor-x@example.com,i1")
        lines.append("17000000099x9,visitor-y@example.com,product,i1")
        let path = try fixture.file("clicks.csv", lines.joined(separator: "\n") + "\n")
        let report = try await importer(fixture, Self.clickstream).importFile(path, actor: "cli")
        #expect(!report.stored && report.rejected == 402)
        #expect(report.skipped == ["home": 200])
        #expect(report.types == ["view": 200, "add_to_cart": 200])
        let groups = report.summary.groups
        #expect(groups.map(\.field) == ["type", "timestamp"])
        #expect(groups[0].count == 401 && groups[0].first == [5, 6, 10])
        #expect(groups[0].hint?.contains("types:") == true)
        #expect(groups[1].count == 1 && groups[1].first == [1003] && groups[1].message == "must be Unix time in milliseconds (whole number)")
        #expect(report.summary.unknownTypes == [ValueCount(value: "compare", count: 200), ValueCount(value: "wishlist", count: 200)])
        // The e-mail address in the type column is counted, not shown.
        #expect(report.summary.unknownTypesNotShown == 1)
        let encoded = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!encoded.contains("@example.com"))
        #expect(try await fixture.store.eventCount() == 0)
    }

    /// A type read from the user ID's own column would list user IDs as unknown types: none is shown.
    @Test func typeValuesFromTheUserIDColumnAreNeverShown() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("c.csv", "ts,visitor\n1700000000000,alice\n1700000000001,bob\n")
        let report = try await importer(fixture, "fields: {user_id: visitor, type: visitor, timestamp: ts}\ntimestamp: {format: epoch_millis}")
            .importFile(path, actor: "cli")
        #expect(report.summary.unknownTypes.isEmpty && report.summary.unknownTypesNotShown == 2)
        #expect(report.summary.groups.map(\.count) == [2])
    }

    /// A type column that is not the user ID's may still hold a record's user or session ID (a shifted
    /// row, a mis-mapped export, a client that put the user in `type`): such a value is counted, never
    /// listed — on import and in the gateway's summary.
    @Test func aTypeValueEqualToTheRecordsOwnIDIsNeverShown() async throws {
        let fixture = try Fixture()
        let path = try fixture.file(
            "c.csv", "ts,visitor,session,page\n1700000000000,shopper7,s1,shopper7\n1700000000001,shopper8,s9,s9\n1700000000002,shopper9,s2,wishlist\n")
        let report = try await importer(
            fixture, "fields: {user_id: visitor, session_id: session, type: page, timestamp: ts}\ntimestamp: {format: epoch_millis}"
        ).importFile(path, actor: "cli")
        #expect(report.summary.unknownTypes == [ValueCount(value: "wishlist", count: 1)])
        #expect(report.summary.unknownTypesNotShown == 2)

        let batch = body([eventLine(id: "a", user: "shopper7", type: "shopper7"), eventLine(id: "b", user: "shopper8", type: "cart")])
        let error = await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service().ingestBatch(batch, format: .ndjson, actor: "test")
        }
        #expect(error?.summary.unknownTypes == [ValueCount(value: "cart", count: 1)])
        #expect(error?.summary.unknownTypesNotShown == 1)
    }

    @Test func aDryRunPreviewsPseudonymisedEventsAndStoresNothing() async throws {
        let fixture = try Fixture()
        let path = try fixture.file(
            "cdnow.txt", "raw-customer-1 19970101 2 10.00\nraw-customer-2 19970102 1 3.50\nraw-customer-1 19970103 4 2.00\n")
        let report = try await importer(fixture, Self.transactions, dryRun: true).importFile(path, actor: "cli")
        #expect(report.dryRun && !report.stored && report.accepted == 3)
        #expect(report.preview.map(\.line) == [1, 2, 3])
        #expect(report.preview.map(\.pseudonym) == ["raw-customer-1", "raw-customer-2", "raw-customer-1"].map { fixture.pid($0).hex })
        #expect(report.preview.map(\.price) == [5.0, 3.5, 0.5])
        #expect(report.preview[0].timestamp == "1997-01-01T00:00:00Z")
        let encoded = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!encoded.contains("raw-customer"))
        #expect(try await fixture.store.eventCount() == 0)
        #expect(try await fixture.auditEntries().isEmpty)
    }

    @Test func delimitersAndQuoting() async throws {
        let fixture = try Fixture()
        let semicolon = try fixture.file("s.csv", "user_id;type;timestamp;item_id\n'a;b';view;2026-01-01T00:00:00Z;'x''y'\n")
        let report = try await importer(fixture, "quote: single").importFile(semicolon, actor: "cli")
        #expect(report.accepted == 1)
        #expect(try await fixture.store.events(for: fixture.pid("a;b")).map(\.itemID) == ["x'y"])

        let pipe = try fixture.file("p.txt", "user_id|type|timestamp|item_id\n\"u2|view|2026-01-01T00:00:00Z|\"q\"\n")
        let unquoted = try await importer(fixture, "quote: none\ndelimiter: pipe").importFile(pipe, actor: "cli")
        #expect(unquoted.accepted == 1)
        #expect(try await fixture.store.events(for: fixture.pid("\"u2")).map(\.itemID) == ["\"q\""])
    }

    static let movieLens1M = """
        columns: [user, movie, stars, ts]
        fields: {user_id: user, item_id: movie, timestamp: ts}
        constants: {type: view}
        timestamp: {format: epoch_seconds}
        """

    /// MovieLens 1M's `ratings.dat` (`UserID::MovieID::Rating::Timestamp`, no header row): `::`
    /// separates the cells, detected from the first line; a single colon stays inside a cell.
    @Test func aDoubleColonFileImportsAsMovieLens1MWritesIt() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n6::a:b::1::978302109")
        let report = try await importer(fixture, Self.movieLens1M).importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == 3 && report.rejected == 0 && report.types == ["view": 3])
        #expect(report.firstEvent == "2000-12-31T22:12:40Z")
        #expect(try await fixture.store.events(for: fixture.pid("1")).compactMap(\.itemID).sorted() == ["1193", "661"])
        #expect(try await fixture.store.events(for: fixture.pid("6")).map(\.itemID) == ["a:b"])
    }

    /// Named, `double_colon` quotes as the other separators do, and an empty last cell counts; read
    /// with another separator the same file is refused by line, with a hint that names `double_colon`.
    @Test func aNamedDoubleColonSeparatorQuotesAndANamedOtherOneIsRefused() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("r.dat", "\"u::7\"::\"x\"::4::978300760\nu8::y::::978300761\n")
        let report = try await importer(fixture, Self.movieLens1M + "\ndelimiter: double_colon").importFile(path, actor: "cli")
        #expect(report.accepted == 2 && report.rejected == 0)
        #expect(try await fixture.store.events(for: fixture.pid("u::7")).map(\.itemID) == ["x"])
        #expect(try await fixture.store.events(for: fixture.pid("u8")).map(\.itemID) == ["y"])

        let other = try Fixture()
        let whitespace = try other.file("r.dat", "1::1193::5::978300760\n")
        let refused = try await importer(other, Self.movieLens1M + "\ndelimiter: whitespace").importFile(whitespace, actor: "cli")
        #expect(!refused.stored && refused.rejected == 1)
        #expect(refused.summary.groups.map(\.message) == ["has 1 columns, the file has 4"])
        #expect(refused.summary.groups.first?.hint?.contains("double_colon") == true)
    }

    /// The MovieLens mappings `docs/models.md` and `scripts/movielens.sh` use import files of their
    /// layouts (a few hand-made lines each, not MovieLens's data): RecBole's typed, tab-separated
    /// `ml-100k.inter` and GroupLens's header-less `ml-1m/ratings.dat`, each rating a view of `movie-ID`.
    @Test(arguments: [
        ("movielens.yaml", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n196\t302\t4\t881250950\n"),
        ("movielens-1m.yaml", "196::242::3::881250949\n196::302::4::881250950\n"),
    ])
    func theMovieLensMappingsInDocsImportTheirLayouts(example: String, text: String) async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let mapping = try MappingFile.load(path: repository.appendingPathComponent("docs/examples/\(example)").path)
        let fixture = try Fixture()
        let path = try fixture.file("ratings", text)
        let report = try await importer(fixture, mapping: mapping).importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == 2 && report.types == ["view": 2])
        #expect(report.firstEvent == "1997-12-04T15:55:49Z")
        let events = try await fixture.store.events(for: fixture.pid("ml-196"))
        #expect(events.map(\.itemID) == ["movie-242", "movie-302"] && events.allSatisfy { $0.category == nil && $0.price == nil })
    }

    /// A tab-separated export named `.inter` (RecBole's) is read as NDJSON by its extension: refused,
    /// and the report says how to read it as CSV, showing no cell.
    @Test func aCSVExportWithAnotherExtensionIsRefusedWithAHintAtFormatCSV() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("ml.inter", "user_id:token\titem_id:token\ttimestamp:float\nshopper-9\t242\t881250949\n")
        let report = try await importer(fixture, mapping: ImportMapping()).importFile(path, actor: "cli")
        #expect(report.format == .ndjson && !report.stored && report.rejected == 2)
        #expect(!report.summary.groups.isEmpty)
        #expect(report.summary.groups.allSatisfy { $0.field == "event" && $0.hint?.contains("--format csv") == true })
        let encoded = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!encoded.contains("shopper-9"))
        #expect(try await fixture.store.eventCount() == 0)
    }

    @Test func theSeparatorIsDetectedFromTheFirstLine() {
        func detect(_ line: String) -> CSVDelimiter {
            Array(line.utf8).withUnsafeBufferPointer { CSVDelimiter.detect(header: $0) }
        }
        #expect(detect("1::1193::5::978300760") == .doubleColon)
        #expect(detect("u1 2026-01-01T10:15:00Z view") == .whitespace)
        #expect(detect("user,item::a,ts") == .comma)
        #expect(detect("user\titem::a") == .tab)
    }

    @Test func anNDJSONFileWithColumnMappingsIsRefused() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("e.ndjson", eventLine() + "\n")
        let error = await #expect(throws: VeilError.self) {
            _ = try await importer(fixture, "fields: {user_id: customer}").importFile(path, actor: "cli")
        }
        #expect(error?.message.contains("is read as NDJSON") == true)
    }
}
