import Foundation
import Testing
import VeilCore
import VeilCrypto
import VeilTestSupport

@testable import VeilIngest

/// Events imported without an `event_id` are keyed by their content (docs/ingest.md): the same event
/// is the same event whatever file, name or line it came in.
@Suite struct ContentKeyTests {
    static let events = [
        #"{"user_id":"u1","type":"view_item","timestamp":"2026-11-01T00:00:00Z","item_id":"sku-1"}"#,
        #"{"user_id":"u1","type":"purchase","timestamp":"2026-11-01T01:00:00+01:00","price":5,"quantity":2}"#,
        #"{"user_id":"u2","type":"search","timestamp":"2026-11-01T00:02:00Z","session_id":"s9","query":"red shoes"}"#,
    ]

    func importer(_ fixture: Fixture, dryRun: Bool = false) throws -> EventImporter {
        var options = ImportOptions()
        options.dryRun = dryRun
        return try EventImporter(service: fixture.service(), options: options)
    }

    func ndjson(_ lines: [String]) -> String { lines.joined(separator: "\n") + "\n" }

    /// Failed before content keys: the second file, also named export.ndjson, was "0 accepted, 3 duplicates".
    @Test func twoDifferentFilesWithTheSameNameBothImport() async throws {
        let fixture = try Fixture()
        try FileManager.default.createDirectory(atPath: fixture.root + "/a", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: fixture.root + "/b", withIntermediateDirectories: true)
        let first = try fixture.file("a/export.ndjson", ndjson(Self.events))
        let other = Self.events.map { $0.replacingOccurrences(of: "2026-11-01", with: "2026-11-02") }
        let second = try fixture.file("b/export.ndjson", ndjson(other))
        let one = try await importer(fixture).importFile(first, actor: "cli")
        let two = try await importer(fixture).importFile(second, actor: "cli")
        #expect((one.accepted, one.duplicates) == (3, 0))
        #expect((two.accepted, two.duplicates) == (3, 0))
        #expect(try await fixture.store.eventCount() == 6)
    }

    /// Failed before content keys: re-importing a corrected file under a new name doubled every event.
    @Test func aCorrectedFileUnderANewNameAddsOnlyWhatChanged() async throws {
        let fixture = try Fixture()
        let original = try fixture.file("export-v1.ndjson", ndjson(Self.events))
        var corrected = Self.events
        corrected[1] = corrected[1].replacingOccurrences(of: #""price":5"#, with: #""price":5.5"#)
        // The same instants written another way are the same events.
        corrected[0] = corrected[0].replacingOccurrences(of: "2026-11-01T00:00:00Z", with: "2026-11-01T02:00:00+02:00")
        let fixed = try fixture.file("export-v2-fixed.ndjson", ndjson(corrected))
        _ = try await importer(fixture).importFile(original, actor: "cli")
        let report = try await importer(fixture).importFile(fixed, actor: "cli")
        #expect((report.accepted, report.duplicates) == (1, 2))
        #expect(try await fixture.store.eventCount() == 4)
        let again = try await importer(fixture).importFile(fixed, actor: "cli")
        #expect((again.accepted, again.duplicates) == (0, 3))
    }

    /// Two identical records in one file are two events (two purchases of the same thing on the same
    /// day); the file imported again adds neither.
    @Test func identicalRecordsOfOneFileAreNumberedInFileOrder() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("twice.ndjson", ndjson([Self.events[1], Self.events[0], Self.events[1]]))
        let report = try await importer(fixture).importFile(path, actor: "cli")
        #expect((report.accepted, report.duplicates) == (3, 0))
        let ids = try await fixture.store.events(for: fixture.pid("u1")).map(\.eventID).sorted()
        #expect(ids.count == 3 && ids.filter { $0.hasSuffix(".2") }.count == 1)
        let again = try await importer(fixture).importFile(path, actor: "cli")
        #expect((again.accepted, again.duplicates) == (0, 3))
    }

    /// The dry run reports what the import then does, and stores and audits nothing.
    @Test func aDryRunCountsWhatTheImportWouldDoAndStoresNothing() async throws {
        let fixture = try Fixture()
        let first = try fixture.file("first.ndjson", ndjson(Array(Self.events.prefix(2))))
        _ = try await importer(fixture).importFile(first, actor: "cli")
        let records = try await fixture.auditEntries().count
        let path = try fixture.file("all.ndjson", ndjson(Self.events + [Self.events[2]]))
        let dry = try await importer(fixture, dryRun: true).importFile(path, actor: "cli")
        #expect(dry.dryRun && !dry.stored)
        #expect((dry.records, dry.accepted, dry.duplicates, dry.rejected) == (4, 2, 2, 0))
        #expect(try await fixture.store.eventCount() == 2)
        #expect(try await fixture.vault.identityCount() == 1)
        #expect(try await fixture.auditEntries().count == records)
        let real = try await importer(fixture).importFile(path, actor: "cli")
        #expect((real.accepted, real.duplicates) == (dry.accepted, dry.duplicates))
    }

    /// The digest is the one `docs/ingest.md` specifies, recomputed by PyNaCl (an independent libsodium
    /// binding) from the master key file and the documented canonical bytes.
    @Test func theKeyMatchesAnIndependentPyNaClComputation() async throws {
        let fixture = try Fixture()
        var policy = Policy()
        policy.ingest.dropFields = []
        let path = try fixture.file("one.ndjson", ndjson([Self.events[2], Self.events[1]]))
        var options = ImportOptions()
        options.dryRun = false
        _ = try await EventImporter(service: fixture.service(policy), options: options).importFile(path, actor: "cli")
        let stored = try await fixture.store.events(for: fixture.pid("u2")) + fixture.store.events(for: fixture.pid("u1"))
        let script = #"""
            import base64, struct, sys
            from nacl.hash import blake2b
            from nacl.encoding import RawEncoder
            master = base64.b64decode(open(sys.argv[1]).read().strip())
            key = blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", 1) + bytes(8),
                          person=b"veil-eid" + bytes(8), encoder=RawEncoder)
            def field(tag, data): return bytes([tag]) + struct.pack("<I", len(data)) + data
            def i64(tag, value): return field(tag, struct.pack("<q", value))
            search = (field(1, b"u2") + field(2, b"search") + i64(3, 1793491320000) + field(4, b"s9")
                      + field(10, b"red shoes"))
            purchase = (field(1, b"u1") + field(2, b"purchase") + i64(3, 1793491200000)
                        + field(7, struct.pack("<d", 5.0)) + i64(8, 2))
            for canonical in (search, purchase):
                print("auto:" + blake2b(canonical, digest_size=16, key=key, encoder=RawEncoder).hex())
            """#
        let output = try runPython(["-c", script, fixture.root + "/keys/master.key"])
        #expect(output.status == 0, "\(output.output)")
        #expect(stored.map(\.eventID) == output.output.split(separator: "\n").map(String.init))
    }

}
