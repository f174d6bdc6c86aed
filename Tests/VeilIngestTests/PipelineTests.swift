import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore

@testable import VeilIngest

@Suite struct PipelineTests {
    @Test func aBatchWithOneBadEventStoresNothing() async throws {
        let fixture = try Fixture()
        let lines = (0..<50).map { eventLine(id: "e\($0)", user: "u\($0)") } + [eventLine(id: "bad", type: "nope")]
        await #expect(throws: BatchRejected.self) {
            _ = try await fixture.service().ingestBatch(body(lines), format: .ndjson, actor: "t")
        }
        #expect(try await fixture.store.eventCount() == 0)
        #expect(try await fixture.vault.identityCount() == 0)
        #expect(try await fixture.auditEntries().isEmpty)
    }

    @Test func duplicatesWithinAndAcrossBatches() async throws {
        let fixture = try Fixture()
        let service = fixture.service()
        let first = try await service.ingestBatch(
            body([eventLine(id: "a"), eventLine(id: "b"), eventLine(id: "a"), eventLine(id: "a")]), format: .ndjson, actor: "t")
        #expect(first == IngestSummary(accepted: 2, duplicates: 2))
        let second = try await service.ingestBatch(
            body([eventLine(id: "b"), eventLine(id: "c")]), format: .ndjson, actor: "t")
        #expect(second == IngestSummary(accepted: 1, duplicates: 1))
        #expect(try await fixture.store.eventCount() == 3)
        #expect(try await fixture.vault.identityCount() == 1)
    }

    /// A user ID is its bytes, as its pseudonym (a keyed hash of them) is: "José" with "é" composed and
    /// decomposed are two users in one batch as in two, each under the pseudonym of its own bytes.
    /// (The batch's cache of pseudonyms was keyed by `String`, whose `==` equates the two: the second
    /// user's events went under the first's pseudonym.)
    @Test func canonicallyEquivalentUserIDsAreTwoUsers() async throws {
        let fixture = try Fixture()
        let (composed, decomposed) = ("Jos\u{E9}", "Jose\u{301}")
        _ = try await fixture.service().ingestBatch(
            body([eventLine(id: "a", user: composed), eventLine(id: "b", user: decomposed)]), format: .ndjson, actor: "t")
        #expect(fixture.pid(composed) != fixture.pid(decomposed))
        #expect(try await fixture.store.events(for: fixture.pid(composed)).map(\.eventID) == ["a"])
        #expect(try await fixture.store.events(for: fixture.pid(decomposed)).map(\.eventID) == ["b"])
        #expect(try await fixture.vault.identityCount() == 2)
    }

    @Test func dropFieldsAreNotStored() async throws {
        let fixture = try Fixture()
        let line = eventLine(
            type: "search", extra: #""query":"red shoes","session_id":"s-1","category":"fashion","item_id":"sku""#)
        _ = try await fixture.service().ingestBatch(Data(line.utf8), format: .ndjson, actor: "t")
        let stored = try #require(try await fixture.store.events(for: fixture.pid("alice@example.com")).first)
        #expect(stored.query == nil)  // the default policy drops query
        #expect(stored.category == "fashion" && stored.session != nil)

        var policy = Policy()
        policy.ingest.dropFields = ["session_id", "item_id"]
        let line2 = eventLine(
            id: "e2", type: "search", extra: #""query":"red shoes","session_id":"s-1","item_id":"sku""#)
        _ = try await fixture.service(policy).ingestBatch(Data(line2.utf8), format: .ndjson, actor: "t")
        let kept = try #require(try await fixture.store.events(for: fixture.pid("alice@example.com")).first { $0.eventID == "e2" })
        #expect(kept.query == "red shoes" && kept.session == nil && kept.itemID == nil)
    }

    @Test func auditGetsCountsOnly() async throws {
        let fixture = try Fixture()
        _ = try await fixture.service().ingestBatch(
            body([eventLine(id: "a"), eventLine(id: "b", user: "bob"), eventLine(id: "a")]), format: .ndjson, actor: "storefront")
        let entries = try await fixture.auditEntries()
        #expect(entries.count == 1)
        #expect(entries[0].action == "ingest.batch")
        #expect(entries[0].actor == "storefront")
        #expect(entries[0].details == ["events": 3, "accepted": 2, "duplicates": 1, "new_identities": 2])
    }

    @Test func eraseDeletesEventsAndVaultRowAndIsAudited() async throws {
        let fixture = try Fixture()
        let lines = [eventLine(id: "a"), eventLine(id: "b"), eventLine(id: "c", user: "bob")]
        _ = try await fixture.service().ingestBatch(body(lines), format: .ndjson, actor: "t")
        let subjects = SubjectService(store: fixture.store, keys: fixture.keys)
        let report = try await subjects.erase(userID: "alice@example.com", actor: "dpo")
        #expect(report == ErasureReport(pseudonym: fixture.pid("alice@example.com"), epoch: 1, eventsDeleted: 2, vaultRowsDeleted: 1))
        #expect(try await fixture.store.eventCount() == 1)
        let again = try await subjects.erase(userID: "alice@example.com", actor: "dpo")
        #expect(again.eventsDeleted == 0 && again.vaultRowsDeleted == 0)
        let audit = try #require(try await fixture.auditEntries().first { $0.action == "subject.erase" })
        #expect(audit.details == [
            "pseudonym": .string(fixture.pid("alice@example.com").hex), "epoch": 1, "events": 2, "identities": 1,
        ])
        await #expect(throws: VeilError.self) { _ = try await subjects.erase(userID: "", actor: "dpo") }
    }

    @Test func reidentifyRoundTrip() async throws {
        let fixture = try Fixture()
        let rawID = "carol+\(UUID().uuidString)@example.com"
        _ = try await fixture.service().ingestBatch(Data(eventLine(user: rawID).utf8), format: .ndjson, actor: "t")
        // A second process (another sealer, another data key) sees the same user: no new vault row.
        _ = try await fixture.service().ingestBatch(Data(eventLine(id: "e2", user: rawID).utf8), format: .ndjson, actor: "t")
        #expect(try await fixture.vault.identityCount() == 1)

        let reidentifier = Reidentifier(vault: fixture.vault, escrowSecret: try fixture.escrowSecret(), audit: fixture.stores.audit)
        let pid = fixture.pid(rawID)
        #expect(try await reidentifier.reidentify(pid, actor: "dpo") == rawID)
        let audit = try #require(try await fixture.auditEntries().last)
        #expect(audit.action == "subject.reidentify")
        #expect(audit.details == ["pseudonym": .string(pid.hex)])

        // Erased subjects cannot be re-identified.
        _ = try await SubjectService(store: fixture.store, keys: fixture.keys).erase(userID: rawID, actor: "dpo")
        do {
            _ = try await reidentifier.reidentify(pid, actor: "dpo")
            Issue.record("expected notFound")
        } catch let error as VeilError {
            #expect(error.code == .notFound)
        }
        // The wrong escrow key fails.
        _ = try await fixture.service().ingestBatch(Data(eventLine(id: "e3", user: rawID).utf8), format: .ndjson, actor: "t")
        let wrong = Reidentifier(vault: fixture.vault, escrowSecret: EscrowSecretKey.generate(), audit: fixture.stores.audit)
        await #expect(throws: VeilError.self) { _ = try await wrong.reidentify(pid, actor: "dpo") }
    }
}

@Suite struct ImportTests {
    /// A whitespace-separated transaction log of (customer, date, quantity, amount), as real exports look.
    static let transactionLog = """
        customer   date        quantity  amount
        00001      19970101    1         11.77
        00002      19970112    1         12.00
        00002      19970112    5         77.00
        00003      19970102    2         20.76

        00003      19970330    2         20.76
        """

    /// The file's amount is a line total: the unit price is amount / quantity.
    static let transactionMapping = """
        format: csv
        fields:
          user_id: customer
          timestamp: date
          quantity: quantity
          price: amount / quantity
        constants:
          type: purchase
        timestamp:
          format: "%Y%m%d"
        """

    func transactionImporter(_ fixture: Fixture, skipInvalid: Bool = false) throws -> EventImporter {
        var options = ImportOptions()
        options.mapping = try mapping(Self.transactionMapping)
        options.skipInvalid = skipInvalid
        options.batchSize = 2
        return try EventImporter(service: fixture.service(), options: options)
    }

    @Test func importsAWhitespaceSeparatedTransactionLog() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("cdnow.txt", Self.transactionLog)
        let report = try await transactionImporter(fixture).importFile(path, actor: "cli")
        #expect(report.records == 5 && report.accepted == 5 && report.duplicates == 0 && report.rejected == 0)
        #expect(report.stored && report.problems.isEmpty && report.ignoredColumns.isEmpty)
        let events = try await fixture.store.events(for: fixture.pid("00002"))
        #expect(events.allSatisfy { $0.eventID.hasPrefix("auto:") } && Set(events.map(\.eventID)).count == 2)
        #expect(events.map(\.type) == [.purchase, .purchase])
        #expect(events.map(\.quantity) == [1, 5])
        #expect(events.map(\.price) == [12.0, 15.4])
        #expect(events.map(\.timestampMillis) == [853_027_200_000, 853_027_200_000])
        #expect(try await fixture.vault.identityCount() == 3)
    }

    @Test func reimportAddsNothing() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("cdnow.txt", Self.transactionLog)
        _ = try await transactionImporter(fixture).importFile(path, actor: "cli")
        let again = try await transactionImporter(fixture).importFile(path, actor: "cli")
        #expect(again.accepted == 0 && again.duplicates == 5)
        #expect(try await fixture.store.eventCount() == 5)
    }

    @Test func anInvalidLineRejectsTheWholeFile() async throws {
        let fixture = try Fixture()
        let text = Self.transactionLog + "\n00004      19971301    1         5.00\n00005      19970101    0         5.00\n"
        let path = try fixture.file("bad.txt", text)
        let report = try await transactionImporter(fixture).importFile(path, actor: "cli")
        #expect(!report.stored && report.accepted == 0 && report.rejected == 2)
        #expect(report.problems == [
            EventProblem(index: 8, field: "timestamp", message: "must match the timestamp format %Y%m%d"),
            EventProblem(index: 9, field: "price", message: "amount / quantity: divides by zero (the column quantity is 0)"),
        ])
        #expect(try await fixture.store.eventCount() == 0)
    }

    @Test func skipInvalidStoresTheRestAndReportsLines() async throws {
        let fixture = try Fixture()
        let text = Self.transactionLog + "\n00004      19971301    1         5.00\n00005   19970101   1\n00006 19970101 1 -3\n"
        let path = try fixture.file("bad.txt", text)
        let report = try await transactionImporter(fixture, skipInvalid: true).importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == 5 && report.rejected == 3)
        #expect(report.problems == [
            EventProblem(index: 8, field: "timestamp", message: "must match the timestamp format %Y%m%d"),
            EventProblem(index: 9, field: "line", message: "has 3 columns, the file has 4"),
            EventProblem(index: 10, field: "price", message: "must be a number from 0 to 1000000 (policy ingest.max_price)"),
        ])
        // The customer IDs of the bad lines are never echoed.
        for problem in report.problems {
            for id in ["00004", "00005", "00006"] { #expect(!problem.message.contains(id) && !problem.field.contains(id)) }
        }
        #expect(try await fixture.store.eventCount() == 5)
    }

    @Test func csvWithQuotesTypeMapAndMissingMappedColumn() async throws {
        let fixture = try Fixture()
        let text = #"""
            user,when,kind,sku,note
            "Doe, J.",2026-11-01T00:00:00Z,P,"sku ""1""",x
            u2,2026-11-01T00:00:00Z,V,sku2,y
            """#
        let path = try fixture.file("shop.csv", text)
        var options = ImportOptions()
        options.mapping = try mapping("""
            fields: {user_id: user, timestamp: when, type: kind, item_id: sku}
            types: {P: purchase, V: view}
            """)
        let report = try await EventImporter(service: fixture.service(), options: options).importFile(path, actor: "cli")
        #expect(report.accepted == 2 && report.ignoredColumns == ["note"])
        let event = try #require(try await fixture.store.events(for: fixture.pid("Doe, J.")).first)
        #expect(event.type == .purchase && event.itemID == "sku \"1\"")

        try options.mapping.map("category", to: "missing", origin: "test")
        await #expect(throws: VeilError.self) {
            _ = try await EventImporter(service: fixture.service(), options: options).importFile(path, actor: "cli")
        }
    }

    /// Without a header row the first record stands where the header should be: neither the error nor
    /// any report may echo its cells (one of them is a raw user ID).
    @Test func aHeaderlessCSVIsRefusedWithoutEchoingItsFirstRow() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("noheader.csv", "raw-user-7f3a@example.com,2026-11-01T00:00:00Z,purchase\nu2,2026-11-01T00:00:00Z,view\n")
        for yaml in ["format: csv", "fields: {user_id: customer}"] {
            var options = ImportOptions()
            options.mapping = try mapping(yaml)
            let error = await #expect(throws: VeilError.self) {
                _ = try await EventImporter(service: fixture.service(), options: options).importFile(path, actor: "cli")
            }
            #expect(error?.description.contains("raw-user-7f3a") == false)
            #expect(error?.description.contains("2026-11-01") == false)
        }
        #expect(try await fixture.store.eventCount() == 0)
    }
}
