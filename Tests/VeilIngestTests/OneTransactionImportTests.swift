import Foundation
import Synchronization
import Testing
import VeilAudit
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilIngest

/// `veil ingest` of a file in one transaction, fed by the validation tasks while they run.
@Suite struct OneTransactionImportTests {
    /// `count` NDJSON lines over `users` users, a minute apart; about 120 bytes each.
    static func lines(_ count: Int, users: Int, prefix: String = "e") -> [String] {
        (0..<count).map { n in
            let minute = n % 1_440
            let timestamp = String(format: "2026-11-%02d T%02d:%02d:00Z", 1 + n / 1_440, minute / 60, minute % 60)
                .replacingOccurrences(of: " ", with: "")
            return eventLine(id: "\(prefix)\(n)", user: "user-\(n % users)", timestamp: timestamp, extra: #""item_id":"sku-\#(n % 97)""#)
        }
    }

    func importer(_ fixture: Fixture, tasks: Int, limit: Int = ImportOptions.defaultOneTransactionLimit) throws -> EventImporter {
        var options = ImportOptions()
        options.validationTasks = tasks
        options.oneTransactionLimit = limit
        options.batchSize = 1_000
        return try EventImporter(service: fixture.service(), options: options)
    }

    /// Several validation tasks (segments of the file) finish in any order; the store must still take
    /// their events in file order, so of two records with one `event_id` the earlier is stored.
    @Test(arguments: [1, 3, 4])
    func segmentsAreStoredInFileOrder(tasks: Int) async throws {
        let fixture = try Fixture()
        var lines = Self.lines(12_000, users: 300)
        // Line 11,001 repeats the event_id of line 2 with another item: a duplicate, not stored.
        lines[11_000] = eventLine(id: "e1", user: "user-1", timestamp: "2026-11-01T00:01:00Z", extra: #""item_id":"late""#)
        let path = try fixture.file("events.ndjson", lines.joined(separator: "\n") + "\n")
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0) > 4 << 16, "several segments")

        let report = try await importer(fixture, tasks: tasks).importFile(path, actor: "cli")
        #expect(report.stored && report.records == 12_000 && report.accepted == 11_999 && report.duplicates == 1)
        let user1 = try await fixture.store.events(for: fixture.pid("user-1"))
        #expect(user1.first { $0.eventID == "e1" }?.itemID == "sku-1")
        #expect(try await fixture.store.eventCount() == 11_999)
        #expect(try await fixture.vault.identityCount() == 300)
        // One audit record for the file, with its totals.
        let audits = try await fixture.auditEntries().filter { $0.action == "ingest.batch" }
        #expect(audits.count == 1)
        #expect(audits.first?.details["accepted"] == .int(11_999))
        #expect(audits.first?.details["new_identities"] == .int(300))
    }

    /// An invalid record near the end arrives after thousands of events were written in the
    /// transaction: they are rolled back with their vault rows, and the writer's memory of vault rows
    /// with them, so a later import of the corrected file escrows every user.
    @Test(arguments: [1, 3])
    func aLateInvalidRecordRollsBackEverythingWritten(tasks: Int) async throws {
        let fixture = try Fixture()
        var lines = Self.lines(30_000, users: 500)
        lines[29_990] = eventLine(id: "bad", type: "teleport")
        let path = try fixture.file("events.ndjson", lines.joined(separator: "\n") + "\n")
        let report = try await importer(fixture, tasks: tasks).importFile(path, actor: "cli")
        #expect(!report.stored && report.accepted == 0 && report.rejected == 1)
        #expect(report.problems.map(\.index) == [29_991])
        #expect(try await fixture.store.eventCount() == 0)
        #expect(try await fixture.vault.identityCount() == 0)
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.isEmpty)

        lines[29_990] = eventLine(id: "fixed", user: "user-0")
        let fixed = try fixture.file("fixed.ndjson", lines.joined(separator: "\n") + "\n")
        let again = try await importer(fixture, tasks: tasks).importFile(fixed, actor: "cli")
        #expect(again.stored && again.accepted == 30_000)
        #expect(try await fixture.vault.identityCount() == 500)
        for user in ["user-0", "user-250", "user-499"] {
            #expect(try await fixture.vault.identity(for: fixture.pid(user)) != nil)
        }
    }

    /// Past `oneTransactionLimit` records the file is validated first and stored in batches; an
    /// invalid record still stores nothing.
    @Test func aFileOverTheLimitIsStoredInBatches() async throws {
        let fixture = try Fixture()
        let lines = Self.lines(5_000, users: 50)
        let path = try fixture.file("events.ndjson", lines.joined(separator: "\n") + "\n")
        let report = try await importer(fixture, tasks: 2, limit: 1_000).importFile(path, actor: "cli")
        #expect(report.stored && report.records == 5_000 && report.accepted == 5_000)
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.count == 5)

        let bad = try fixture.file("bad.ndjson", (Self.lines(5_000, users: 50, prefix: "b") + [eventLine(id: "x", type: "nope")]).joined(separator: "\n"))
        let refused = try await importer(fixture, tasks: 2, limit: 1_000).importFile(bad, actor: "cli")
        #expect(!refused.stored && refused.rejected == 1 && refused.accepted == 0)
        #expect(try await fixture.store.eventCount() == 5_000)
    }

    /// The real store, recording each transaction fed through `commitAll` (a one-transaction import, or
    /// one transaction of a batched one): the events it stored, or nil when it was rolled back.
    final class CountingImportStore: ForwardingEventStore, @unchecked Sendable {
        let base: any EventStore
        let transactions = Mutex<[Int?]>([])

        init(base: any EventStore) { self.base = base }

        func commitAll(
            _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
            audit: @escaping @Sendable (BatchCommit) -> AuditDraft
        ) async throws -> BatchCommit {
            do {
                let result = try await base.commitAll(batches, stored: stored, audit: audit)
                transactions.withLock { $0.append(result.inserted + result.duplicates) }
                return result
            } catch {
                transactions.withLock { $0.append(nil) }
                throw error
            }
        }

        var recorded: [Int?] { transactions.withLock { $0 } }
    }

    func importer(_ fixture: Fixture, store: some EventStore, limit: Int) throws -> EventImporter {
        var options = ImportOptions()
        options.validationTasks = 2
        options.oneTransactionLimit = limit
        options.batchSize = 1_000
        let service = IngestService(store: store, keys: fixture.keys, policy: fixture.policy, clock: .fixed(Fixture.now))
        return try EventImporter(service: service, options: options)
    }

    /// A file whose first MiB shows it far over the limit is validated, then stored in batches: it is
    /// never first written into one transaction up to the limit and rolled back (before: it was).
    @Test func aFileClearlyOverTheLimitIsNeverWrittenInOneTransaction() async throws {
        let fixture = try Fixture()
        let lines = Self.lines(12_000, users: 60)
        let text = lines.joined(separator: "\n") + "\n"
        #expect(text.utf8.count > EventImporter.sampleBytes, "more than the sample")
        let path = try fixture.file("events.ndjson", text)
        let store = CountingImportStore(base: fixture.store)
        let report = try await importer(fixture, store: store, limit: 3_000).importFile(path, actor: "cli")
        #expect(report.stored && report.records == 12_000 && report.accepted == 12_000)
        #expect(store.recorded == Array(repeating: 1_000, count: 12), "12 transactions of --batch-size, none rolled back")
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.count == 12)

        // Invalid at the end: nothing stored, nothing written.
        let bad = try fixture.file("bad.ndjson", (Self.lines(12_000, users: 60, prefix: "b") + [eventLine(id: "x", type: "nope")]).joined(separator: "\n"))
        let refused = try await importer(fixture, store: store, limit: 3_000).importFile(bad, actor: "cli")
        #expect(!refused.stored && refused.rejected == 1 && refused.accepted == 0 && refused.problems.map(\.index) == [12_001])
        #expect(try await fixture.store.eventCount() == 12_000)
        #expect(store.recorded.count == 12, "the invalid file wrote nothing")
    }

    /// The estimate from the first MiB is only a shortcut: a file that looks over the limit (short
    /// lines first, then one long blank line) but holds no more records than the limit is still stored
    /// in one transaction.
    @Test func aFileThatOnlyLooksOverTheLimitIsStoredInOneTransaction() async throws {
        let fixture = try Fixture()
        let lines = Self.lines(9_000, users: 60)
        let text = lines.joined(separator: "\n") + "\n" + String(repeating: " ", count: 5 << 20) + "\n"
        let path = try fixture.file("events.ndjson", text)
        let store = CountingImportStore(base: fixture.store)
        let report = try await importer(fixture, store: store, limit: 10_000).importFile(path, actor: "cli")
        #expect(report.stored && report.records == 9_000 && report.accepted == 9_000)
        #expect(store.recorded == [9_000])
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.count == 1)
    }

    /// A file stored in batches feeds each transaction as it is read, as a one-transaction import
    /// does: at most `batchesAhead` hand-off batches wait for the store's writer however large
    /// `--batch-size` is, so a transaction can be large without memory growing with it (before, each
    /// batch of `--batch-size` events was prepared whole, then committed). What is stored is the file,
    /// whole and in order, one `ingest.batch` record per transaction.
    @Test func aBatchedImportFeedsEachTransactionAsTheFileIsRead() async throws {
        let fixture = try Fixture()
        let handOff = EventImporter.handOffSize
        var lines = Self.lines(7 * handOff, users: 300)  // dates up to the fixture's now
        // The last line repeats the event_id of line 2 with another item: a duplicate across transactions.
        lines.append(eventLine(id: "e1", user: "user-1", timestamp: "2026-11-01T00:01:00Z", extra: #""item_id":"late""#))
        let path = try fixture.file("events.ndjson", lines.joined(separator: "\n") + "\n")
        let store = ImportBackpressureTests.SlowWriterStore(base: fixture.store, holdsFirst: false)
        var options = ImportOptions()
        options.oneTransactionLimit = 0
        options.batchSize = 5 * handOff
        let service = IngestService(store: store, keys: fixture.keys, policy: fixture.policy, clock: .fixed(Fixture.now))
        let report = try await EventImporter(service: service, options: options).importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == 7 * handOff && report.duplicates == 1)
        #expect(store.batchesPerTransaction.withLock { $0 } == [5, 3], "5 hand-off batches, then 2 and the last line's")
        let most = store.mostWaiting.withLock { $0 }
        #expect(most <= EventImporter.batchesAhead, "at most \(EventImporter.batchesAhead) batches ahead; \(most) were")
        let audits = try await fixture.auditEntries().filter { $0.action == "ingest.batch" }
        #expect(audits.map { $0.details["events"] } == [.int(Int64(5 * handOff)), .int(Int64(2 * handOff + 1))])
        #expect(try await fixture.store.events(for: fixture.pid("user-1")).first { $0.eventID == "e1" }?.itemID == "sku-1")
        #expect(try await fixture.store.eventCount() == 7 * handOff)
    }

    /// `--batch-size` given (`inBatches`) opts a file that fits one transaction into transactions of
    /// that size, validated first: an invalid line still stores nothing.
    @Test func aBatchSizeGivenStoresASmallFileInTransactionsOfThatSize() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("events.ndjson", Self.lines(9_000, users: 60).joined(separator: "\n") + "\n")
        let store = CountingImportStore(base: fixture.store)
        let importer = try inBatches(fixture, store: store, batchSize: 2_000)
        let report = try await importer.importFile(path, actor: "cli")
        #expect(report.stored && report.accepted == 9_000)
        #expect(store.recorded == [2_000, 2_000, 2_000, 2_000, 1_000], "under the 2,000,000 limit, yet in transactions of 2,000")
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.count == 5)

        let bad = try fixture.file("bad.ndjson", (Self.lines(9_000, users: 60, prefix: "b") + [eventLine(id: "x", type: "nope")]).joined(separator: "\n"))
        let refused = try await importer.importFile(bad, actor: "cli")
        #expect(!refused.stored && refused.rejected == 1 && store.recorded.count == 5, "the invalid file wrote nothing")
    }

    /// `count` NDJSON lines over `users` users, a second apart from 2026-11-01 (about 11 hours for
    /// 40,000 lines, all before the fixture's now).
    static func secondLines(_ count: Int, users: Int) -> [String] {
        (0..<count).map { n in
            let timestamp = String(format: "2026-11-%02dT%02d:%02d:%02dZ", 1 + n / 86_400, n / 3_600 % 24, n / 60 % 60, n % 60)
            return eventLine(id: "s\(n)", user: "user-\(n % users)", timestamp: timestamp, extra: #""item_id":"sku-\#(n % 97)""#)
        }
    }

    /// With one write connection (SQLite's), the next transaction is fed while the one before it
    /// commits and begins in the store once that one is durable, so the writer does not wait for the
    /// reader after each commit. Here each transaction is one hand-off batch more than
    /// `batchesAhead`, so feeding the second to its end needs its store transaction to take batches:
    /// when the first is counted (its progress line) the second has begun — before, nothing of it
    /// was read until the first had committed. The store never holds two of them open at once.
    @Test func theNextTransactionIsFedWhileTheOneBeforeItCommits() async throws {
        let fixture = try Fixture()
        let perTransaction = (EventImporter.batchesAhead + 1) * EventImporter.handOffSize
        let path = try fixture.file("events.ndjson", Self.secondLines(2 * perTransaction, users: 300).joined(separator: "\n") + "\n")
        let store = TransactionOverlapStore(base: fixture.store)
        let begunAtProgress = Mutex<[Int]>([])
        let report = try await inBatches(fixture, store: store, batchSize: perTransaction).importFile(path, actor: "cli") { _ in
            begunAtProgress.withLock { $0.append(store.begun) }
        }
        #expect(report.stored && report.accepted == 2 * perTransaction)
        #expect(begunAtProgress.withLock { $0.first } == 2, "the second transaction had begun when the first was counted")
        #expect(store.mostOpen == 1, "one store transaction at a time on one connection")
        #expect(try await fixture.store.eventCount() == 2 * perTransaction)
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.count == 2)
    }

    /// The transaction fed ahead stores nothing when the one before it fails to commit: what is
    /// stored stays a prefix of the file (here nothing), the first error is rethrown, and importing
    /// the file again stores all of it.
    @Test func aTransactionFedAheadStoresNothingWhenTheOneBeforeItFails() async throws {
        let fixture = try Fixture()
        let perTransaction = 2 * EventImporter.handOffSize
        let path = try fixture.file("events.ndjson", Self.secondLines(3 * perTransaction, users: 60).joined(separator: "\n") + "\n")
        let failing = FailingTransactionStore(base: fixture.store, failing: 1, connections: 1)
        await #expect(throws: VeilError.self) {
            try await inBatches(fixture, store: failing, batchSize: perTransaction).importFile(path, actor: "cli")
        }
        #expect(failing.started.withLock { $0 } == 1, "the transaction fed ahead never began")
        #expect(try await fixture.store.eventCount() == 0)
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.isEmpty)

        let again = try await inBatches(fixture, store: fixture.store, batchSize: perTransaction).importFile(path, actor: "cli")
        #expect(again.accepted == 3 * perTransaction)
    }

    /// Counts the import transactions the store has begun, and the most it held open at once.
    final class TransactionOverlapStore: ForwardingEventStore, @unchecked Sendable {
        let base: any EventStore
        private let state = Mutex((begun: 0, open: 0, mostOpen: 0))

        init(base: any EventStore) { self.base = base }

        func commitAll(
            _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
            audit: @escaping @Sendable (BatchCommit) -> AuditDraft
        ) async throws -> BatchCommit {
            state.withLock { state in
                state.begun += 1
                state.open += 1
                state.mostOpen = max(state.mostOpen, state.open)
            }
            defer { state.withLock { $0.open -= 1 } }
            return try await base.commitAll(batches, stored: stored, audit: audit)
        }

        var begun: Int { state.withLock { $0.begun } }
        var mostOpen: Int { state.withLock { $0.mostOpen } }
    }

    /// An importer storing every file in transactions of `batchSize` (`--batch-size` given), on up
    /// to `connections` at once (nil: the default the store allows).
    func inBatches(_ fixture: Fixture, store: some EventStore, batchSize: Int, connections: Int? = nil) throws -> EventImporter {
        var options = ImportOptions()
        options.batchSize = batchSize
        options.inBatches = true
        options.writeConnections = connections
        let service = IngestService(store: store, keys: fixture.keys, policy: fixture.policy, clock: .fixed(Fixture.now))
        return try EventImporter(service: service, options: options)
    }

    /// A store that takes three transactions of an import at once (`maxWriteConnections`, as PostgreSQL
    /// does) and fails the third: the import stops and rethrows, what it stored is whole transactions
    /// each with its `ingest.batch` record, and importing the file again stores exactly the rest.
    @Test func aTransactionFailingAmongSeveralOpenStopsTheImportAndImportingAgainCompletesIt() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("events.ndjson", Self.lines(12_000, users: 60).joined(separator: "\n") + "\n")
        let failing = try inBatches(
            fixture, store: FailingTransactionStore(base: fixture.store, failing: 3, connections: 3), batchSize: 1_000, connections: 3)
        await #expect(throws: VeilError.self) { try await failing.importFile(path, actor: "cli") }
        let stored = try await fixture.store.eventCount()
        let records = try await fixture.auditEntries().filter { $0.action == "ingest.batch" }
        #expect(stored % 1_000 == 0 && stored < 12_000, "whole transactions: \(stored)")
        #expect(records.count == stored / 1_000 && records.allSatisfy { $0.details["accepted"] == .int(1_000) })

        let again = try await inBatches(fixture, store: fixture.store, batchSize: 1_000).importFile(path, actor: "cli")
        #expect(again.accepted == 12_000 - stored && again.duplicates == stored)
        #expect(try await fixture.store.eventCount() == 12_000)
    }

    /// Takes up to `connections` import transactions at once and fails the one it is given as number
    /// `failing` once it has taken all its batches, as a failed commit would (rolled back by the real
    /// store: nothing of it is written).
    final class FailingTransactionStore: ForwardingEventStore, @unchecked Sendable {
        let base: any EventStore
        let failing: Int
        let connections: Int
        let started = Mutex(0)

        init(base: any EventStore, failing: Int, connections: Int) {
            self.base = base
            self.failing = failing
            self.connections = connections
        }

        var maxWriteConnections: Int { connections }

        func commitAll(
            _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
            audit: @escaping @Sendable (BatchCommit) -> AuditDraft
        ) async throws -> BatchCommit {
            let number = started.withLock { $0 += 1; return $0 }
            guard number == failing else { return try await base.commitAll(batches, stored: stored, audit: audit) }
            while try await batches.next() != nil {}
            throw VeilError(.unavailable, field: "store", "transaction \(number) fails to commit")
        }
    }

    @Test func anEmptyFileStoresNothingAndSucceeds() async throws {
        let fixture = try Fixture()
        let path = try fixture.file("empty.ndjson", "\n\n")
        let report = try await importer(fixture, tasks: 1).importFile(path, actor: "cli")
        #expect(report.stored && report.records == 0 && report.accepted == 0)
        #expect(try await fixture.auditEntries().filter { $0.action == "ingest.batch" }.isEmpty)
    }
}
