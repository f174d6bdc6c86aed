import Foundation
import Synchronization
import VeilCore
import VeilStore

/// How `veil ingest` reads files.
public struct ImportOptions: Sendable {
    public enum Format: String, Sendable, CaseIterable, Codable {
        case ndjson, csv
    }

    /// How records become events: the file's layout, field expressions, constants, type values, timestamps.
    public var mapping = ImportMapping()
    /// Store the valid records of a file that has invalid ones, and report the invalid ones.
    public var skipInvalid = false
    /// A file of at most this many records is stored in one transaction, fed while it is validated.
    /// A larger one is validated first, then read again and stored `batchSize` events per transaction.
    public var oneTransactionLimit = ImportOptions.defaultOneTransactionLimit
    /// Events per write transaction for files over `oneTransactionLimit`, with `skipInvalid`, and with
    /// `inBatches`. Each
    /// transaction is fed as the file is read, but what the transaction holds until it commits grows
    /// with it (`defaultBatchSize`); the store's writer is held for one transaction at a time.
    public var batchSize = ImportOptions.defaultBatchSize
    /// Store every file in transactions of `batchSize` events (validated first, all or nothing per
    /// transaction), not only those over `oneTransactionLimit` (`veil ingest --batch-size`).
    public var inBatches = false
    /// Transactions of an import in batches that may be open at once, each on a connection of its
    /// own (nil: `defaultWriteConnections`, or fewer where the store has fewer:
    /// `EventStore.maxWriteConnections`, 1 on SQLite).
    public var writeConnections: Int?
    /// Tasks that validate a file at once (nil: one fewer than the processors, at least one, so the
    /// store's writer keeps a core of its own).
    public var validationTasks: Int?
    /// Validate, map and write each file exactly as an import would, in one transaction whatever its
    /// size, then roll it back: the report's counts are the real import's, and nothing is stored or
    /// audited.
    public var dryRun = false

    /// 2,000,000 records: the transaction holds the database's writer (a `veil serve` on the same data
    /// directory waits up to its 10 s busy timeout, then answers 503) for about 5 s per million events
    /// on the reference machine. (Memory does not depend on it: the validation tasks wait for the
    /// store's writer, `EventImporter.batchesAhead`.)
    public static let defaultOneTransactionLimit = 2_000_000

    /// 50,000. Larger transactions cost the store less per event when events come out of index order
    /// (grouped by user, random `event_id`s: `docs/architecture.md`, "At scale"), but what a transaction
    /// holds until it commits grows with it: a 4.7 M-event file (`veil generate --users 50000 --days
    /// 120`) peaked at 974 MB with 1,000,000 events per transaction and 448 MB with 50,000, in 40.4 s
    /// against 43.1 s (release, quiet machine, `/usr/bin/time -v veil ingest`). A crash loses only the
    /// uncommitted transaction, which importing the file again adds.
    public static let defaultBatchSize = 50_000
    /// 3: on PostgreSQL an import's backend work is spread over three connections (`docs/deploy.md`,
    /// "Measuring"); SQLite has one writer.
    public static let defaultWriteConnections = 3
    /// The most problems a report lists by line (the counts and the summary by rule are always complete).
    public var maxReportedProblems = 1_000
    /// The first valid events a dry run shows, mapped and pseudonymised.
    public var previewEvents = 5

    public init() {}

    func format(for path: String) -> Format {
        if let format = mapping.format { return format }
        if mapping.columns != nil { return .csv }
        switch (path as NSString).pathExtension.lowercased() {
        case "csv", "tsv", "txt": return .csv
        default: return .ndjson
        }
    }
}

/// What importing one file did. Problems carry 1-based line numbers in `index`, and never a value.
public struct ImportFileReport: Sendable, Codable, Equatable {
    public var file: String
    public var format: ImportOptions.Format
    /// Non-blank data lines read.
    public var records: Int
    public var accepted: Int
    public var duplicates: Int
    /// Records that broke a rule (stored nothing from the file unless `skipInvalid`).
    public var rejected: Int
    /// Whether the file's valid events were stored (false: rejected as a whole, or a dry run).
    public var stored: Bool
    /// A dry run: the counts are what the import would do; nothing was stored.
    public var dryRun: Bool
    /// The first `maxReportedProblems` problems, by line number.
    public var problems: [EventProblem]
    /// Problems not listed in `problems`.
    public var problemsNotShown: Int
    /// Every problem by rule, with the unknown type values and a hint at the mapping for each rule.
    public var summary: ProblemSummary
    /// Valid records per event type (stored or duplicates).
    public var types: [String: Int]
    /// Records dropped by a `skip` in the mapping's type values, by value.
    public var skipped: [String: Int]
    /// Free-form properties of valid records dropped because the policy does not list their key, or
    /// they break its bounds (counted, never shown).
    public var propertiesDropped = 0
    /// The earliest and latest time of a valid record (RFC 3339, UTC); nil without one.
    public var firstEvent: String?
    public var lastEvent: String?
    /// A dry run: the first valid events as they would be stored (the user ID only as its pseudonym).
    public var preview: [PreviewEvent]
    /// CSV columns that no event field reads (not stored).
    public var ignoredColumns: [String]
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case file, format, records, accepted, duplicates, rejected, stored, problems, summary, types, skipped, preview, seconds
        case dryRun = "dry_run"
        case problemsNotShown = "problems_not_shown"
        case firstEvent = "first_event"
        case lastEvent = "last_event"
        case ignoredColumns = "ignored_columns"
        case propertiesDropped = "properties_dropped"
    }
}

/// One event as an import would store it, for a dry run's preview: pseudonyms in place of the user and
/// session IDs; search text left out.
public struct PreviewEvent: Sendable, Codable, Equatable {
    public var line: Int
    public var eventID: String
    public var pseudonym: String
    public var type: String
    public var timestamp: String
    public var session: String?
    public var itemID: String?
    public var category: String?
    public var price: Double?
    public var quantity: Int?
    public var rating: Int?
    /// The free-form properties the policy keeps (absent when none).
    public var properties: [String: Double]?

    init(line: Int, _ event: StoredEvent) {
        self.line = line
        eventID = event.eventID
        pseudonym = event.pseudonym.hex
        type = event.type.rawValue
        timestamp = RFC3339.format(millis: event.timestampMillis)
        session = event.session?.hex
        itemID = event.itemID
        category = event.category
        price = event.price
        quantity = event.quantity
        rating = event.rating
        properties = event.properties.isEmpty ? nil : event.properties
    }

    enum CodingKeys: String, CodingKey {
        case line, pseudonym, type, timestamp, session, category, price, quantity, rating, properties
        case eventID = "event_id"
        case itemID = "item_id"
    }
}

/// Progress of one file, reported after each committed batch.
public struct ImportProgress: Sendable {
    public var file: String
    public var bytesRead: Int
    public var bytesTotal: Int
    public var accepted: Int
    public var duplicates: Int
    public var rejected: Int
}

/// Imports NDJSON and CSV files through the ingest pipeline (the same validation as HTTP).
///
/// A record without an `event_id` gets one derived from its content (`ContentKey`: a keyed hash of
/// its canonical fields, repeats within the file numbered), so importing a file again — under any
/// name — adds nothing, and two different files never shadow each other. A file is all or nothing —
/// unless `skipInvalid`, which stores the valid records and reports the rest:
/// - A file of at most `oneTransactionLimit` records is stored in one transaction. Validation tasks
///   (`validationTasks`, each a segment of the file) validate and pseudonymise its records and hand
///   them, in file order, to the store's writer, which inserts them as they come; the transaction
///   commits only if no record broke a rule, and otherwise rolls back. Parsing and storing overlap,
///   and a crash at any point leaves nothing of the file.
/// - A larger file, or any file with `inBatches`, is validated first (storing nothing if any record
///   is invalid), then read again and stored `batchSize` events per transaction, each with its own
///   `ingest.batch` record, up to `writeConnections` transactions open at once (the next fed while
///   the previous ones commit). If the store fails part-way, the transactions already committed stay;
///   running the import again completes it without duplicates.
public struct EventImporter: Sendable {
    public let service: IngestService
    public let options: ImportOptions

    public init(service: IngestService, options: ImportOptions) throws {
        guard options.batchSize >= 1 else {
            throw VeilError(.invalidInput, field: "--batch-size", "must be at least 1")
        }
        guard options.oneTransactionLimit >= 0 else {
            throw VeilError(.invalidInput, field: "--one-transaction-limit", "must be at least 0")
        }
        if let connections = options.writeConnections {
            let most = service.store.maxWriteConnections
            guard connections >= 1 else {
                throw VeilError(.invalidInput, field: "--write-connections", "must be at least 1")
            }
            guard connections <= most else {
                throw VeilError(
                    .invalidInput, field: "--write-connections",
                    most == 1 ? "must be 1: this store has one writer (more need PostgreSQL)" : "must be at most \(most) on this store")
            }
        }
        if let tasks = options.validationTasks, tasks < 1 {
            throw VeilError(.invalidInput, field: "validationTasks", "must be at least 1")
        }
        do {
            try options.mapping.checkConsistency()
        } catch {
            throw VeilError(.invalidInput, field: "mapping", error.rule)
        }
        self.service = service
        self.options = options
    }

    public func importFile(
        _ path: String, actor: String, progress: (@Sendable (ImportProgress) -> Void)? = nil
    ) async throws -> ImportFileReport {
        let started = ContinuousClock.now
        let file = try MappedFile(path: path)
        let format = options.format(for: path)
        if format == .ndjson, !options.mapping.fields.isEmpty || options.mapping.columns != nil {
            throw VeilError(
                .invalidInput, field: path,
                "is read as NDJSON, whose events name their fields; fields and columns map CSV files (format: csv, --format csv)")
        }
        var report = ImportFileReport(
            file: path, format: format, records: 0, accepted: 0, duplicates: 0, rejected: 0, stored: false,
            dryRun: options.dryRun, problems: [], problemsNotShown: 0, summary: ProblemSummary(), types: [:], skipped: [:],
            firstEvent: nil, lastEvent: nil, preview: [], ignoredColumns: [], seconds: 0)
        let layout = try csvLayout(file, format: format, name: path)
        report.ignoredColumns = layout?.rows.ignoredColumns ?? []
        let pass = RecordPass(
            mapper: RecordMapper(options.mapping),
            validator: service.makeValidator(timestamps: options.mapping.timestamp, requiresEventID: false),
            now: service.nowMillis(), problemLimit: options.maxReportedProblems, previewLimit: options.previewEvents,
            // A type read from the column of the user (or session) ID would list IDs as unknown types.
            showsTypeValues: layout.map { $0.rows.typeColumns.isDisjoint(with: $0.rows.identifierColumns) } ?? true)

        var tally: FileTally
        if !options.skipInvalid && !options.dryRun && (options.inBatches || clearlyOverTheLimit(file, layout: layout)) {
            // Batches asked for, or surely too many records for one transaction: validate the whole
            // file first (storing nothing if any record is invalid), then store it in batches — without
            // first writing `oneTransactionLimit` events into a transaction only to roll them back.
            tally = try await importLargeFile(file, layout: layout, pass: pass, path: path, actor: actor, report: &report, progress: progress)
        } else if !options.skipInvalid || options.dryRun {
            // All or nothing (a dry run always; it rolls back): one transaction, fed while the file is
            // validated in parallel segments, and committed only if every record is valid.
            if let done = try await importInOneTransaction(
                file, layout: layout, pass: pass, path: path, actor: actor, report: &report, progress: progress)
            {
                tally = done
            } else {
                // Too many records to keep in one transaction: nothing was stored; store the file in
                // batches (validated first, so still nothing is stored unless every record is valid).
                tally = try await importInBatches(file, layout: layout, pass: pass, path: path, actor: actor, report: &report, progress: progress)
            }
        } else {
            tally = try await importInBatches(file, layout: layout, pass: pass, path: path, actor: actor, report: &report, progress: progress)
        }
        summarise(tally, format: format, into: &report)
        if options.dryRun, !tally.preview.isEmpty {
            var prepared = service.prepare(tally.preview.map(\.event))
            var numbering = ContentKeyNumbering()
            numbering.number(&prepared)
            report.preview = zip(tally.preview, prepared.events).map { PreviewEvent(line: $0.line, $1) }
        }
        report.seconds = (ContinuousClock.now - started).seconds
        return report
    }

    /// Whether the file holds, by its size and the lines of its first MiB, more than 1.25 times
    /// `oneTransactionLimit` records. Only a shortcut: `importLargeFile` counts the records, and takes
    /// the one-transaction path after all when they are not over the limit.
    private func clearlyOverTheLimit(_ file: MappedFile, layout: RecordReader.CSVLayout?) -> Bool {
        let start = layout?.bodyStart ?? 0
        let body = file.bytes.count - start
        let sample = min(body, Self.sampleBytes)
        guard sample < body, sample > 0 else { return false }  // a file this small is counted exactly
        let lines = RecordReader.newlines(file.bytes, start..<(start + sample))
        file.release(from: start, to: start + sample)
        let estimate = Double(lines) * Double(body) / Double(sample)
        return estimate > Double(options.oneTransactionLimit) * 1.25
    }

    /// The bytes `clearlyOverTheLimit` reads to estimate the records of a file.
    static let sampleBytes = 1 << 20

    /// Validates every record of the file (in parallel on every processor: nothing is stored meanwhile)
    /// and stores nothing if any is invalid; then stores it in batches (`importInBatches`), or in one
    /// transaction after all if it has no more than `oneTransactionLimit` records and `inBatches` is off.
    private func importLargeFile(
        _ file: MappedFile, layout: RecordReader.CSVLayout?, pass: RecordPass, path: String, actor: String,
        report: inout ImportFileReport, progress: (@Sendable (ImportProgress) -> Void)?
    ) async throws -> FileTally {
        let segments = segments(of: file, layout: layout, sparedForTheWriter: 0)
        let nothingDelivered = OrderedDelivery(segments: segments.count) { _ in }
        nothingDelivered.abandon()
        let check = try await validateAll(file, segments: segments, layout: layout, pass: pass, delivery: nothingDelivered)
        guard check.tally.rejected == 0 else { return check.tally }
        if !options.inBatches, check.tally.records <= options.oneTransactionLimit,
            let done = try await importInOneTransaction(
                file, layout: layout, pass: pass, path: path, actor: actor, report: &report, progress: progress)
        {
            return done
        }
        return try await importInBatches(file, layout: layout, pass: pass, path: path, actor: actor, report: &report, progress: progress)
    }

    /// Stores the file `batchSize` events per transaction, in file order. Each transaction is fed as the
    /// file is read (`EventStore.commitAll`): the store's writer inserts each hand-off batch of
    /// `handOffSize` events while the next one is prepared, and the reader waits for the writer once
    /// `batchesAhead` batches wait, so the events waiting for the writer are a few hand-off batches;
    /// what the open transaction holds still grows with `batchSize` (`defaultBatchSize`). Large
    /// transactions matter as the store grows: a commit writes every index page the transaction
    /// touched, and events out of index order (grouped by user, random `event_id`s such as content
    /// keys or UUIDs) touch pages all over the index, so small transactions rewrite most of the index
    /// again and again (`docs/architecture.md`, "At scale").
    ///
    /// Up to `writeConnections` transactions are open at once (`EventStore.maxWriteConnections`: on
    /// PostgreSQL each on a connection of its own; SQLite has one writer): once a transaction is fed,
    /// the next one starts while it commits, and the reader waits for the oldest open one when that
    /// many are. Each transaction is whole with its own `ingest.batch` record, and is counted (and
    /// shown as progress) only once it is durable. With one connection a transaction starts in the
    /// store only after the one before it committed (it is fed meanwhile, up to `batchesAhead` batches,
    /// so the writer does not wait for the reader after each commit), so what a failure or a crash
    /// leaves stored is a prefix of the file's events; with several it is whole transactions, not
    /// necessarily consecutive ones. Either
    /// way importing the file again stores exactly the rest (every event has its key). After a failure
    /// the reader stops, waits for the transactions still open (each commits or fails whole) and
    /// rethrows the first error.
    private func importInBatches(
        _ file: MappedFile, layout: RecordReader.CSVLayout?, pass template: RecordPass, path: String, actor: String,
        report: inout ImportFileReport, progress: (@Sendable (ImportProgress) -> Void)?
    ) async throws -> FileTally {
        var reader = makeReader(file, layout: layout)
        var pass = template
        var numbering = ContentKeyNumbering()
        let service = service
        let connections = options.writeConnections ?? min(ImportOptions.defaultWriteConnections, service.store.maxWriteConnections)
        // With one connection the next transaction is fed while the one before it commits (its fsync,
        // on SQLite 0.1 s or more for 50,000 events) and begins once that one is durable: one more is
        // open in the importer than in the store.
        let fedAhead = connections == 1 ? 1 : 0
        var open: [(transaction: FedTransaction, bytesRead: Int)] = []
        var failure: (any Error)?
        var finished = false
        var anyFailed: Bool { failure != nil || open.contains { $0.transaction.failed } }
        while true {
            var transaction: FedTransaction? = nil
            var inTransaction = 0
            var valid: [ValidEvent] = []
            valid.reserveCapacity(min(Self.handOffSize, options.batchSize))
            while !finished && inTransaction < options.batchSize {
                if let (line, record) = reader.next() {
                    guard let event = pass.take(record, line: line) else { continue }
                    valid.append(event)
                    inTransaction += 1
                    guard valid.count == Self.handOffSize || inTransaction == options.batchSize else { continue }
                } else {
                    finished = true
                    guard !valid.isEmpty else { break }
                }
                var prepared = service.prepare(valid)
                numbering.number(&prepared)
                valid.removeAll(keepingCapacity: true)
                guard !anyFailed, transaction?.failed != true else { break }
                let fed = transaction ?? FedTransaction(service: service, actor: actor, after: fedAhead > 0 ? open.last?.transaction : nil)
                transaction = fed
                await fed.batches.waitForRoom(below: Self.batchesAhead)
                fed.batches.send(service.write(prepared))
            }
            if let transaction {
                // Another transaction failed meanwhile: this one rolls back (the import stops).
                transaction.batches.finish(throwing: anyFailed ? ImportAbandoned() : nil)
                open.append((transaction, reader.offset))
            }
            let stopping = finished || anyFailed
            // The oldest open transaction, counted once it is durable (or its error kept): while as
            // many are open as there are connections (and the one fed ahead), and every one at the end.
            while open.count >= connections + fedAhead || (stopping && !open.isEmpty) {
                let (oldest, bytesRead) = open.removeFirst()
                switch await oldest.commit.result {
                case .success(let done):
                    report.accepted += done.inserted
                    report.duplicates += done.duplicates
                    progress?(
                        ImportProgress(
                            file: path, bytesRead: bytesRead, bytesTotal: file.bytes.count, accepted: report.accepted,
                            duplicates: report.duplicates, rejected: pass.tally.rejected))
                case .failure(let error):
                    failure = failure ?? error
                }
            }
            if stopping { break }
        }
        if let failure { throw failure }
        progress?(
            ImportProgress(
                file: path, bytesRead: file.bytes.count, bytesTotal: file.bytes.count, accepted: report.accepted,
                duplicates: report.duplicates, rejected: pass.tally.rejected))
        report.stored = true
        return pass.tally
    }

    /// One transaction of `importInBatches`, committing what is sent to `batches` once it is finished.
    /// One fed `after` another begins its store transaction only once that one has committed, and
    /// stores nothing if it failed; until then what is sent waits in `batches` (at most `batchesAhead`).
    private final class FedTransaction: Sendable {
        let batches: EventBatchStream
        let commit: Task<BatchCommit, any Error>
        private let failure: Failure

        /// Set when the commit failed: the producer stops feeding (what it sends is dropped anyway).
        private final class Failure: Sendable {
            let happened = Mutex(false)
        }

        init(service: IngestService, actor: String, after previous: FedTransaction?) {
            let batches = EventBatchStream(showsProgress: false)
            let failure = Failure()
            self.batches = batches
            self.failure = failure
            let before = previous?.commit
            commit = Task {
                do {
                    if let before, case .failure = await before.result { throw ImportAbandoned() }
                    return try await service.commitAll(batches, actor: actor) { _ in }
                } catch {
                    failure.happened.withLock { $0 = true }
                    batches.stopReading()  // wakes the producer if it waits for room
                    throw error
                }
            }
        }

        var failed: Bool { failure.happened.withLock { $0 } }
    }

    /// Validates the whole file in parallel segments while a single transaction stores the batches
    /// they prepare (in file order); commits it only if no record broke a rule. Returns nil, having
    /// stored nothing, when the file has more than `oneTransactionLimit` records (and none is invalid).
    ///
    /// A dry run takes the file whatever its size, writes the valid records even past invalid ones when
    /// `skipInvalid`, and always rolls back: the counts are those of the writes it undid.
    private func importInOneTransaction(
        _ file: MappedFile, layout: RecordReader.CSVLayout?, pass: RecordPass, path: String, actor: String,
        report: inout ImportFileReport, progress: (@Sendable (ImportProgress) -> Void)?
    ) async throws -> FileTally? {
        let segments = segments(of: file, layout: layout, sparedForTheWriter: 1)
        let batches = EventBatchStream()
        let service = service
        let ahead = Self.storeBatchesAhead(unitEvents: service.store.eventsPerWriteUnit)
        let delivery = OrderedDelivery(
            segments: segments.count, limit: Self.batchesAhead,
            storeRoom: { await batches.waitForRoom(below: ahead) }
        ) { batches.send(service.write($0)) }
        let bytesTotal = file.bytes.count
        // Validation runs in its own task; this task goes straight into the store, so the writer waits
        // for batches before the segments occupy every cooperative thread.
        let dryRun = options.dryRun
        let validation = Task {
            do {
                let check = try await validateAll(file, segments: segments, layout: layout, pass: pass, delivery: delivery)
                if dryRun {
                    batches.finish(throwing: DryRunEnd())  // rolls back whatever was written
                } else if check.tally.rejected == 0 && !check.tooLarge && delivery.passedAny {
                    batches.finish()
                } else {
                    batches.finish(throwing: ImportAbandoned())  // rolls back whatever was written
                }
                return check
            } catch {
                batches.finish(throwing: error)
                throw error
            }
        }
        let tally = Mutex((batches: 0, accepted: 0, duplicates: 0))
        let stored: Result<BatchCommit, any Error>
        do {
            stored = .success(
                try await service.commitAll(batches, actor: actor) { result in
                    let (count, accepted, duplicates) = tally.withLock { tally in
                        tally = (tally.batches + 1, tally.accepted + result.inserted, tally.duplicates + result.duplicates)
                        return tally
                    }
                    progress?(
                        ImportProgress(
                            file: path, bytesRead: delivery.offset(ofBatch: count - 1), bytesTotal: bytesTotal,
                            accepted: accepted, duplicates: duplicates, rejected: 0))
                })
        } catch {
            stored = .failure(error)
            delivery.abandon()
        }
        // Producers waiting for the store's room go on (only to finish their report, if it failed).
        batches.stopReading()
        let check = try await validation.value
        if dryRun {
            if case .failure(let error) = stored, !(error is DryRunEnd) { throw error }
            if check.tally.rejected == 0 || options.skipInvalid {
                (report.accepted, report.duplicates) = tally.withLock { ($0.accepted, $0.duplicates) }
            }
            return check.tally
        }
        guard check.tally.rejected == 0, !check.tooLarge, delivery.passedAny else {
            report.stored = check.tally.rejected == 0 && !check.tooLarge
            // A file that broke a rule is reported here, however large.
            return check.tally.rejected > 0 || !check.tooLarge ? check.tally : nil
        }
        let result = try stored.get()
        report.accepted = result.inserted
        report.duplicates = result.duplicates
        report.stored = true
        progress?(
            ImportProgress(
                file: path, bytesRead: bytesTotal, bytesTotal: bytesTotal, accepted: report.accepted,
                duplicates: report.duplicates, rejected: 0))
        return check.tally
    }

    /// Events per batch handed from validation to the store's single transaction: small, so the
    /// writer starts on the first events at once (it commits only at the end either way).
    static let handOffSize = 4_096

    /// Hand-off batches a validation task may have prepared ahead of the store's writer (more for a
    /// store that writes in units: `storeBatchesAhead`), and a later segment ahead of its turn, before
    /// it waits: about 1.2 MB of events each, so an import's memory depends on this, `handOffSize`,
    /// the store's unit and the number of tasks — never on the file.
    static let batchesAhead = 4

    /// Hand-off batches that may wait for the store's writer in a one-transaction import:
    /// `batchesAhead`, or, for a store that writes in units (`EventStore.eventsPerWriteUnit`), a whole
    /// unit and one batch more, so that the next unit is prepared while the store writes one
    /// (PostgreSQL: 50,000 events, 14 batches, about 17 MB). With `batchesAhead` alone the validation
    /// task waited while the server stored each unit, and the server waited for the next unit:
    /// `veil ingest` of 1,000,000 events in one transaction went from 91,841–103,654 to
    /// 124,980–132,497 events/s (release, alternating runs, `docs/deploy.md`).
    static func storeBatchesAhead(unitEvents: Int) -> Int {
        max(batchesAhead, (unitEvents + handOffSize - 1) / handOffSize + 1)
    }

    /// Why an import's transaction was rolled back: a record broke a rule, or the file outgrew it.
    private struct ImportAbandoned: Error {}

    /// Why a dry run's transaction was rolled back: it always is.
    private struct DryRunEnd: Error {}

    private func csvLayout(_ file: MappedFile, format: ImportOptions.Format, name: String) throws -> RecordReader.CSVLayout? {
        guard format == .csv else { return nil }
        return try RecordReader.csvLayout(file.bytes, mapping: options.mapping, file: name)
    }

    private func makeReader(
        _ file: MappedFile, layout: RecordReader.CSVLayout?, range: Range<Int>? = nil, firstLine: Int? = nil
    ) -> RecordReader {
        if let layout { return RecordReader(csv: file.bytes, layout: layout, range: range, firstLine: firstLine, releasing: file) }
        return RecordReader(ndjson: file.bytes, range: range, firstLine: firstLine ?? 1, releasing: file)
    }

    /// The outcome of validating a file while delivering it to the store.
    private struct Check: Sendable {
        var tally: FileTally
        /// More than `oneTransactionLimit` records: the delivery was abandoned.
        var tooLarge = false
    }

    /// The file's records split for `validateAll`: `options.validationTasks` segments, else one per
    /// processor but `sparedForTheWriter` (1 while the database writer runs beside the validation, 0
    /// when nothing is written meanwhile).
    private func segments(
        of file: MappedFile, layout: RecordReader.CSVLayout?, sparedForTheWriter: Int
    ) -> [(range: Range<Int>, firstLine: Int)] {
        RecordReader.segments(
            file.bytes, from: layout?.bodyStart ?? 0, firstLine: layout?.bodyFirstLine ?? 1,
            parts: options.validationTasks ?? max(1, ProcessInfo.processInfo.activeProcessorCount - sparedForTheWriter),
            releasing: file)
    }

    /// Validates every record of the file, one task per segment, and merges what they saw in line
    /// order. While no segment has found a problem, each prepares (pseudonymises) its valid events in
    /// batches and hands them to `delivery`; the first problem, or more than `oneTransactionLimit` records,
    /// abandons the delivery, and validation goes on only to report.
    private func validateAll(
        _ file: MappedFile, segments: [(range: Range<Int>, firstLine: Int)], layout: RecordReader.CSVLayout?,
        pass template: RecordPass, delivery: OrderedDelivery
    ) async throws -> Check {
        let keepLimit = options.dryRun ? Int.max : options.oneTransactionLimit / max(1, segments.count)
        // A dry run with skipInvalid writes the valid records past invalid ones, as the import would.
        let abandonOnInvalid = !(options.dryRun && options.skipInvalid)
        let batchSize = Self.handOffSize
        let service = service
        let parts = try await withThrowingTaskGroup(of: (Int, Check).self) { group in
            for (number, segment) in segments.enumerated() {
                group.addTask {
                    defer { delivery.finish(segment: number) }
                    var reader = makeReader(file, layout: layout, range: segment.range, firstLine: segment.firstLine)
                    var pass = template
                    var tooLarge = false
                    var valid: [ValidEvent] = []
                    var delivering = !delivery.isAbandoned
                    while let (line, record) = reader.next() {
                        let rejectedBefore = pass.tally.rejected
                        guard let event = pass.take(record, line: line) else {
                            if pass.tally.rejected > rejectedBefore, delivering && abandonOnInvalid {
                                delivering = false
                                delivery.abandon()
                            }
                            continue
                        }
                        guard delivering else { continue }
                        if pass.tally.records > keepLimit {
                            tooLarge = true
                            delivering = false
                            delivery.abandon()
                            continue
                        }
                        if valid.isEmpty { valid.reserveCapacity(batchSize) }
                        valid.append(event)
                        if valid.count >= batchSize {
                            delivery.deliver(service.prepare(valid), offset: reader.offset, segment: number)
                            valid.removeAll(keepingCapacity: true)
                            await delivery.waitForRoom(segment: number)
                            delivering = !delivery.isAbandoned
                        }
                    }
                    if delivering && !valid.isEmpty {
                        delivery.deliver(service.prepare(valid), offset: reader.offset, segment: number)
                    }
                    return (number, Check(tally: pass.tally, tooLarge: tooLarge))
                }
            }
            var parts: [(Int, Check)] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var total = Check(tally: FileTally(showsTypeValues: template.tally.summary.showsTypeValues))
        for part in parts {
            total.tooLarge = total.tooLarge || part.tooLarge
            total.tally.merge(part.tally, problemLimit: options.maxReportedProblems, previewLimit: options.previewEvents)
        }
        return total
    }

    /// Copies what the pass saw into the report, with a hint at the mapping for each rule broken.
    private func summarise(_ tally: FileTally, format: ImportOptions.Format, into report: inout ImportFileReport) {
        report.records = tally.records
        report.rejected = tally.rejected
        report.problems = tally.problems
        report.problemsNotShown = tally.problemsNotShown
        report.summary = tally.summary.summary { ImportHints.hint(for: $0, format: format) }
        report.types = Dictionary(uniqueKeysWithValues: tally.types.map { ($0.key.rawValue, $0.value) })
        report.skipped = tally.skipped
        report.propertiesDropped = tally.propertiesDropped
        report.firstEvent = tally.earliest.map(RFC3339.format(millis:))
        report.lastEvent = tally.latest.map(RFC3339.format(millis:))
    }
}
