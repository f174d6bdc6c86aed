import ArgumentParser
import Foundation
import VeilCore
import VeilCrypto
import VeilIngest
import VeilRuntime
import VeilStore

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Import events from NDJSON or CSV files through the ingest pipeline.",
        discussion: """
            Every record is validated like an HTTP event (docs/ingest.md), then minimised, pseudonymised \
            and stored; raw user IDs are never written. A record without event_id gets one derived from \
            its content (a keyed hash of its fields), so the same event is stored once whatever file it \
            comes in; importing a file again, under any name, adds nothing. A file is all or nothing: if \
            any line is invalid, nothing of it is stored and the problems are reported by rule, with the \
            first lines of each (never a value) — unless --skip-invalid, which stores the valid lines. \
            A file of at most --one-transaction-limit records is stored in one transaction; a larger one, \
            or any file with --batch-size, is validated first and then stored in transactions of \
            --batch-size events, each whole with its own ingest.batch record (on PostgreSQL up to \
            --write-connections at once): a crash leaves whole transactions, and importing the file \
            again stores exactly the rest. \
            --dry-run shows the first events as they would be stored (user IDs as pseudonyms), the counts \
            per type and the date range, and stores nothing.

            A foreign export is described by a mapping file (--mapping, docs/ingest.md) or the same \
            settings as flags, which override the file's: the delimiter and quoting, the column names of \
            a file without a header row, an expression per event field (price=amount/quantity), \
            constants, a value map for event types (home=skip), the timestamp format and time zone. \
            --default-type gives the type of records without one: an interaction-only export (user, \
            item, time) imports as views.

            Examples:
              veil ingest events.ndjson
              VEIL_DATABASE_URL=postgresql:///veil veil ingest history.ndjson --batch-size 50000 --write-connections 3
              veil ingest transactions.txt --mapping transactions.yaml --dry-run
              veil ingest transactions.txt --delimiter whitespace --columns customer,date,quantity,amount \\
                  --map user_id=customer,timestamp=date,quantity=quantity,'price=amount / quantity' \\
                  --default-type purchase --timestamp-format %Y%m%d
              veil ingest ratings.csv --map user_id=user,item_id=item,timestamp=ts --default-type view
              veil ingest clicks.csv --map user_id=visitor,type=page --event-type-map home=skip,product=view \\
                  --timestamp-format epoch_millis --json
            """
    )

    @Argument(help: ArgumentHelp("NDJSON or CSV files to import.", valueName: "file"))
    var files: [String] = []

    @Option(help: ArgumentHelp("A mapping file (YAML, docs/ingest.md); the flags below override its settings.", valueName: "file"))
    var mapping: String?

    @Option(help: "Input format: ndjson or csv (default: by extension; .csv/.tsv/.txt are CSV).")
    var format: ImportOptions.Format?

    @Option(help: "CSV cell separator: comma, tab, semicolon, pipe, double_colon (::, MovieLens 1M) or whitespace (default: detected from the first line).")
    var delimiter: CSVDelimiter?

    @Option(help: "CSV quoting: double (\"a, b\"), single ('a, b') or none.")
    var quote: CSVQuote?

    @Option(
        help: ArgumentHelp(
            "The column names of a CSV file without a header row, in order, e.g. customer,date,quantity,amount.",
            valueName: "name,..."))
    var columns: String?

    @Option(
        parsing: .singleValue,
        help: ArgumentHelp(
            "Event field from an expression over columns, e.g. user_id=customer,price=amount/quantity (repeatable).",
            valueName: "field=expression,..."))
    var map: [String] = []

    @Option(
        parsing: .singleValue,
        help: ArgumentHelp("A value for records that leave a field empty, e.g. type=purchase (repeatable).", valueName: "field=value,..."))
    var constant: [String] = []

    @Option(
        help: ArgumentHelp(
            "Timestamp layout: rfc3339 (default), epoch_seconds, epoch_millis, epoch_micros, or a pattern: strftime (%Y-%m-%d) or ICU (yyyy-MM-dd).",
            valueName: "format"))
    var timestampFormat: String?

    @Option(
        help: ArgumentHelp(
            "Time zone of timestamps without an offset: UTC (default), +01:00 or an IANA name such as Europe/Berlin.",
            valueName: "zone"))
    var timeZone: String?

    @Option(
        parsing: .singleValue,
        help: ArgumentHelp(
            "What values of the type column stand for, e.g. P=purchase,home=skip (skip drops the record; repeatable).",
            valueName: "value=type,..."))
    var eventTypeMap: [String] = []

    @Option(
        name: [.customLong("default-type"), .customLong("type")],
        help: ArgumentHelp(
            "Event type of records without one (no type column, or an empty cell; --constant type=TYPE): e.g. view for a rating export, purchase for a transaction log.",
            valueName: "type"))
    var defaultType: String?

    @Flag(help: "Store the valid lines of a file with invalid ones, and report the invalid lines.")
    var skipInvalid = false

    @Flag(help: "Validate, map and count exactly as an import would, show the first events as they would be stored, then store nothing.")
    var dryRun = false

    @Option(
        help: ArgumentHelp(
            "A file of at most this many records is imported in one transaction, parsed and stored at once; a larger one is validated first, then stored --batch-size events per transaction.",
            valueName: "records"))
    var oneTransactionLimit = ImportOptions.defaultOneTransactionLimit

    @Option(
        help: ArgumentHelp(
            "Store every file in transactions of this many events, each whole with its own ingest.batch record, validated first (all or nothing per transaction, not per file). Without it: \(ImportOptions.defaultBatchSize), for files over --one-transaction-limit and with --skip-invalid.",
            valueName: "events"))
    var batchSize: Int?

    @Option(
        help: ArgumentHelp(
            "Transactions of an import in batches committed at once, each on its own connection (default \(ImportOptions.defaultWriteConnections), or as many as the store allows if fewer: SQLite has one writer, so 1).",
            valueName: "n"))
    var writeConnections: Int?

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file to import") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let writeConnections, writeConnections < 1 { throw ValidationError("--write-connections must be at least 1") }
        guard oneTransactionLimit >= 0 else { throw ValidationError("--one-transaction-limit must be at least 0") }
    }

    /// The import options from the mapping file and the flags; throws naming the file's key and line,
    /// or the flag.
    func importOptions() throws -> ImportOptions {
        var options = ImportOptions()
        options.skipInvalid = skipInvalid
        options.dryRun = dryRun
        options.batchSize = batchSize ?? ImportOptions.defaultBatchSize
        options.inBatches = batchSize != nil
        options.writeConnections = writeConnections
        options.oneTransactionLimit = oneTransactionLimit
        options.mapping = try mappingFromFileAndFlags()
        return options
    }

    private func mappingFromFileAndFlags() throws -> ImportMapping {
        var mapping = try self.mapping.map(MappingFile.load(path:)) ?? ImportMapping()
        func flag(_ name: String, _ set: () throws -> Void) throws {
            do {
                try set()
            } catch let error as MappingRuleError {
                throw ValidationError("\(name): \(error.rule)")
            }
        }
        if let format { mapping.format = format }
        if let delimiter { mapping.delimiter = delimiter }
        if let quote { mapping.quote = quote }
        if let columns {
            try flag("--columns") { try mapping.setColumns(FlagList.items(columns), origin: "--columns") }
        }
        for (field, expression) in try FlagList.pairs(map, flag: "--map") {
            try flag("--map \(field)") { try mapping.map(field, to: expression, origin: "--map") }
        }
        for (field, value) in try FlagList.pairs(constant, flag: "--constant") {
            try flag("--constant \(field)") { try mapping.setConstant(field, value, origin: "--constant") }
        }
        if let defaultType {
            try flag("--default-type") { try mapping.setConstant("type", defaultType, origin: "--default-type") }
        }
        for (value, target) in try FlagList.pairs(eventTypeMap, flag: "--event-type-map") {
            try flag("--event-type-map \(value)") { try mapping.mapType(value, to: target, origin: "--event-type-map") }
        }
        if timestampFormat != nil || timeZone != nil {
            try flag(timestampFormat != nil ? "--timestamp-format" : "--time-zone") {
                try mapping.setTimestamp(layout: timestampFormat, zone: timeZone, origin: "--timestamp-format")
            }
        }
        try flag("mapping") { try mapping.checkConsistency() }
        return mapping
    }

    func run() async throws {
        let options: ImportOptions
        do {
            options = try importOptions()
        } catch let rejected as MappingFileRejected {
            Output.note(rejected.description)
            throw ExitCode.validationFailure
        }
        let progress = ProgressBar.standardError(enabled: !output.json)
        let started = ContinuousClock.now
        var reports: [ImportFileReport] = []
        var elapsed = Duration.zero
        let checkpoint = try await service.withContext { context in
            let importer = try EventImporter(service: context.ingestPipeline(), options: options)
            for file in files {
                let report = try await importer.importFile(file, actor: service.principal) { update in progress?.show(update) }
                progress?.clear()
                reports.append(report)
                if !output.json { printReport(report) }
            }
            elapsed = ContinuousClock.now - started
            // Every import is durable already; let the store settle it (SQLite: copy the write-ahead
            // log into veil.sqlite) before exiting rather than leave it to the next process. A dry run
            // wrote nothing and touches nothing.
            return dryRun ? 0 : try await context.events.settle()
        }
        let summary = ImportSummary(reports: reports, seconds: elapsed.seconds, checkpointSeconds: checkpoint)
        if output.json {
            try Output.json(summary)
        } else {
            if reports.count > 1 {
                print(
                    "total: \(summary.accepted) accepted, \(summary.duplicates) duplicates, \(summary.rejected) rejected in \(Self.format(summary.seconds)) s (\(Int(summary.eventsPerSecond)) events/s)"
                )
            }
            if dryRun {
                Output.note("dry run: nothing was stored or audited")
            } else {
                Output.note("store settled (write-ahead log copied into the database) in \(Self.format(checkpoint)) s")
            }
        }
        // A file the import would refuse fails the command, in a dry run too.
        if reports.contains(where: { dryRun ? ($0.rejected > 0 && !skipInvalid) : !$0.stored }) { throw ExitCode.failure }
    }

    private func printReport(_ report: ImportFileReport) {
        let rate = report.seconds > 0 ? Int(Double(report.records) / report.seconds) : 0
        if report.dryRun {
            let outcome = report.rejected > 0 && !skipInvalid ? "would be rejected — \(report.rejected) invalid lines" : "would store \(report.accepted) new events, \(report.duplicates) duplicates, \(report.rejected) rejected"
            print("\(report.file): dry run: \(outcome) of \(report.records) records; nothing was stored")
        } else if report.stored {
            print(
                "\(report.file): \(report.accepted) accepted, \(report.duplicates) duplicates, \(report.rejected) rejected of \(report.records) records in \(Self.format(report.seconds)) s (\(rate) events/s)"
            )
        } else {
            print("\(report.file): rejected — \(report.rejected) invalid lines; nothing of this file was stored (see --skip-invalid)")
        }
        if !report.types.isEmpty {
            print("  types: " + report.types.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let first = report.firstEvent, let last = report.lastEvent {
            print("  time range: \(first) … \(last)")
        }
        if !report.skipped.isEmpty {
            print("  skipped (types: skip): " + report.skipped.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !report.ignoredColumns.isEmpty {
            print("  columns not imported: \(report.ignoredColumns.joined(separator: ", "))")
        }
        ProblemText.print(report.summary, unit: "line")
        if !report.preview.isEmpty {
            print("  first events as they would be stored (user IDs as pseudonyms):")
            for event in report.preview { print("    " + Self.previewLine(event)) }
        }
    }

    private static func previewLine(_ event: PreviewEvent) -> String {
        var parts = ["line \(event.line)", event.pseudonym, event.type, event.timestamp]
        if let item = event.itemID { parts.append("item_id=\(item)") }
        if let category = event.category { parts.append("category=\(category)") }
        if let price = event.price { parts.append("price=\(Self.decimal(price))") }
        if let quantity = event.quantity { parts.append("quantity=\(quantity)") }
        if let rating = event.rating { parts.append("rating=\(rating)") }
        if let session = event.session { parts.append("session=\(session)") }
        return parts.joined(separator: "  ")
    }

    static func format(_ seconds: Double) -> String { String(format: "%.2f", seconds) }

    /// `value` to at most 6 decimals without trailing zeros: a unit price computed as amount / quantity
    /// shows as 13.97, not 13.969999999999999 (the stored value is unchanged).
    static func decimal(_ value: Double) -> String {
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// Lists given as flags: `name=value,...` pairs and `a,b,c` items, split at commas outside
/// parentheses, "quotes" and `backquotes` (so an expression such as concat(a, "-", b) stays whole).
enum FlagList {
    static func items(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var depth = 0
        var quote: Character? = nil
        for character in text {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "`" {
                quote = character
            } else if character == "(" {
                depth += 1
            } else if character == ")" {
                depth -= 1
            } else if character == ",", depth == 0 {
                items.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            }
            current.append(character)
        }
        items.append(current.trimmingCharacters(in: .whitespaces))
        return items
    }

    static func pairs(_ values: [String], flag: String) throws -> [(String, String)] {
        try values.flatMap(items).map { item in
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("\(flag): \"\(item)\" is not of the form name=value")
            }
            return (parts[0], parts[1])
        }
    }
}

extension ImportOptions.Format: ExpressibleByArgument {}
extension CSVDelimiter: ExpressibleByArgument {}
extension CSVQuote: ExpressibleByArgument {}

/// `veil ingest --json`: one report per file and the totals.
struct ImportSummary: Encodable {
    let files: [ImportFileReport]
    let accepted: Int
    let duplicates: Int
    let rejected: Int
    /// Seconds of importing, until the last file was durable.
    let seconds: Double
    let eventsPerSecond: Double
    /// Seconds spent after that copying the write-ahead log into the database file.
    let checkpointSeconds: Double

    init(reports: [ImportFileReport], seconds: Double, checkpointSeconds: Double) {
        self.checkpointSeconds = checkpointSeconds
        files = reports
        accepted = reports.reduce(0) { $0 + $1.accepted }
        duplicates = reports.reduce(0) { $0 + $1.duplicates }
        rejected = reports.reduce(0) { $0 + $1.rejected }
        self.seconds = seconds
        let records = reports.reduce(0) { $0 + $1.records }
        eventsPerSecond = seconds > 0 ? Double(records) / seconds : 0
    }

    enum CodingKeys: String, CodingKey {
        case files, accepted, duplicates, rejected, seconds
        case eventsPerSecond = "events_per_second"
        case checkpointSeconds = "checkpoint_seconds"
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let started = ContinuousClock.now

    /// A bar on stderr, or nil when stderr is not a terminal or output is JSON.
    static func standardError(enabled: Bool) -> ProgressBar? {
        enabled && isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
    }

    func show(_ progress: ImportProgress) {
        lock.withLock {
            let fraction = progress.bytesTotal > 0 ? Double(progress.bytesRead) / Double(progress.bytesTotal) : 1
            let events = progress.accepted + progress.duplicates
            let seconds = (ContinuousClock.now - started).seconds
            let rate = seconds > 0 ? Int(Double(events) / seconds) : 0
            let name = (progress.file as NSString).lastPathComponent
            let line = "\r\(name) [\(ProgressLine.bar(fraction))] \(Int(fraction * 100))%  \(events) events  \(rate) events/s\u{1B}[K"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func clear() {
        lock.withLock { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
