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
            any line is invalid, nothing of it is stored and the lines are reported (never their values) \
            — unless --skip-invalid, which stores the valid lines and reports the others. --dry-run \
            reports what the import would do and stores nothing.

            CSV files need a header row; cells are separated by commas, tabs or runs of whitespace \
            (detected from the header, or --delimiter). Columns named like event fields map to them; \
            --map maps others.

            Examples:
              veil ingest events.ndjson
              veil ingest transactions.txt --format csv --type purchase \\
                  --map user_id=customer,timestamp=date,quantity=quantity,price=amount \\
                  --timestamp-format %Y%m%d
              veil ingest export.csv --map user_id=client,type=kind \\
                  --event-type-map P=purchase,V=view --json
              veil ingest corrected-export.csv --dry-run
            """
    )

    @Argument(help: ArgumentHelp("NDJSON or CSV files to import.", valueName: "file"))
    var files: [String] = []

    @Option(help: "Input format: ndjson or csv (default: by extension; .csv/.tsv/.txt are CSV).")
    var format: ImportOptions.Format?

    @Option(help: "CSV cell separator: comma, tab or whitespace (default: detected from the header).")
    var delimiter: CSVDelimiter?

    @Option(
        parsing: .singleValue,
        help: ArgumentHelp("Map event fields to CSV columns, e.g. user_id=customer,timestamp=date (repeatable).", valueName: "field=column,..."))
    var map: [String] = []

    @Option(
        help: ArgumentHelp(
            "Timestamp layout instead of RFC 3339, UTC: strftime (%Y-%m-%d) or ICU (yyyy-MM-dd). A date alone is midnight UTC.",
            valueName: "format"))
    var timestampFormat: String?

    @Option(
        parsing: .singleValue,
        help: ArgumentHelp("Extra event type names, e.g. P=purchase,R=return (repeatable).", valueName: "name=type,..."))
    var eventTypeMap: [String] = []

    @Option(name: .customLong("type"), help: ArgumentHelp("Event type of records without one (e.g. purchase for a transaction log).", valueName: "type"))
    var constantType: String?

    @Flag(help: "Store the valid lines of a file with invalid ones, and report the invalid lines.")
    var skipInvalid = false

    @Flag(help: "Validate, map and count exactly as an import would (new, duplicates, rejected), then store nothing.")
    var dryRun = false

    @Option(
        help: ArgumentHelp(
            "A file of at most this many records is imported in one transaction, parsed and stored at once; a larger one is validated first, then stored --batch-size events per transaction.",
            valueName: "records"))
    var oneTransactionLimit = ImportOptions.defaultOneTransactionLimit

    @Option(help: "Events per write transaction, for files over --one-transaction-limit and with --skip-invalid.")
    var batchSize = ImportOptions.defaultBatchSize

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file to import") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard oneTransactionLimit >= 0 else { throw ValidationError("--one-transaction-limit must be at least 0") }
        _ = try importOptions()
    }

    /// The import options from the flags; throws a `ValidationError` naming the bad flag.
    func importOptions() throws -> ImportOptions {
        var options = ImportOptions()
        options.format = format
        options.delimiter = delimiter
        options.skipInvalid = skipInvalid
        options.dryRun = dryRun
        options.batchSize = batchSize
        options.oneTransactionLimit = oneTransactionLimit
        for (key, value) in try pairs(map, flag: "--map") {
            guard let field = EventField(rawValue: key) else {
                throw ValidationError(
                    "--map: \"\(key)\" is not an event field; use one of \(EventField.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            options.columnMap[field] = value
        }
        if (format == .ndjson) && !options.columnMap.isEmpty {
            throw ValidationError("--map applies to CSV files only")
        }
        for (name, typeName) in try pairs(eventTypeMap, flag: "--event-type-map") {
            guard let type = EventTypeNames.resolve(typeName) else {
                throw ValidationError("--event-type-map: \"\(typeName)\" is not an event type or GA4 alias")
            }
            options.typeMap[name] = type
        }
        if let constantType {
            guard let type = EventTypeNames.resolve(constantType) else {
                throw ValidationError("--type: \"\(constantType)\" is not an event type or GA4 alias")
            }
            options.constantType = type
        }
        if let timestampFormat {
            do {
                options.timestampFormat = try TimestampFormat(timestampFormat)
            } catch let error as VeilError {
                throw ValidationError(error.description)
            }
        }
        return options
    }

    private func pairs(_ values: [String], flag: String) throws -> [(String, String)] {
        try values.flatMap { $0.split(separator: ",") }.map { item in
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("\(flag): \"\(item)\" is not of the form name=value")
            }
            return (parts[0], parts[1])
        }
    }

    func run() async throws {
        let options = try importOptions()
        let progress = ProgressBar.standardError(enabled: !output.json)
        let started = ContinuousClock.now
        var reports: [ImportFileReport] = []
        var elapsed = Duration.zero
        let checkpoint = try await service.withContext { context in
            let importer = try EventImporter(service: context.ingestPipeline(), options: options)
            for file in files {
                let report = try await importer.importFile(file, actor: "cli") { update in progress?.show(update) }
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
        if !report.ignoredColumns.isEmpty {
            Output.note("\(report.file): columns not imported: \(report.ignoredColumns.joined(separator: ", "))")
        }
        for problem in report.problems {
            print("  line \(problem.index): \(problem.field) \(problem.message)")
        }
        if report.problemsNotShown > 0 { print("  … and \(report.problemsNotShown) more problems") }
    }

    static func format(_ seconds: Double) -> String { String(format: "%.2f", seconds) }
}

extension ImportOptions.Format: ExpressibleByArgument {}
extension CSVDelimiter: ExpressibleByArgument {}

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
