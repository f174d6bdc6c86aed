import Foundation
import VeilCore

/// How `veil ingest` reads files.
public struct ImportOptions: Sendable {
    public enum Format: String, Sendable, CaseIterable, Codable {
        case ndjson, csv
    }

    /// nil: by extension (`.csv`, `.tsv`, `.txt` are CSV; anything else NDJSON).
    public var format: Format?
    /// nil: detect from the header row.
    public var delimiter: CSVDelimiter?
    /// Event field → CSV column name. Fields not listed map to a column of their own name, if any.
    public var columnMap: [EventField: String] = [:]
    /// A fixed timestamp layout; nil means RFC 3339.
    public var timestampFormat: TimestampFormat?
    /// Extra type names (e.g. `P` → purchase), consulted before the canonical names and GA4 aliases.
    public var typeMap: [String: EventType] = [:]
    /// The type of records that carry none (a transaction log of purchases).
    public var constantType: EventType?
    /// Store the valid records of a file that has invalid ones, and report the invalid ones.
    public var skipInvalid = false
    /// Events per write transaction (`defaultBatchSize` unless set).
    public var batchSize = ImportOptions.defaultBatchSize

    /// 50,000: each batch pseudonymises and looks up in the vault every distinct user it holds once, so
    /// a user who appears throughout a file costs that once per batch; fewer, larger batches pay it less
    /// often. `VeilBench ingest` (1,000,000 events, 50,000 users, release): 43k events/s with batches of
    /// 10,000, 74k with 50,000, 79k with 200,000. Memory grows with the batch (about 15 MB of events at
    /// 50,000); a crash loses only uncommitted batches, which importing the file again adds.
    public static let defaultBatchSize = 50_000
    /// The most problems a report lists (the counts are always complete).
    public var maxReportedProblems = 1_000

    public init() {}

    func format(for path: String) -> Format {
        if let format { return format }
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
    /// Whether the file's valid events were stored (false: rejected as a whole).
    public var stored: Bool
    /// The first `maxReportedProblems` problems, by line number.
    public var problems: [EventProblem]
    /// Problems not listed in `problems`.
    public var problemsNotShown: Int
    /// CSV header columns that no event field maps to (not stored).
    public var ignoredColumns: [String]
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case file, format, records, accepted, duplicates, rejected, stored, problems, seconds
        case problemsNotShown = "problems_not_shown"
        case ignoredColumns = "ignored_columns"
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
/// A file's `event_id`s default to `<file name>:<line number>`, so importing a file again adds
/// nothing. A file is all or nothing: a first pass validates every record, and only a file without
/// problems is stored — unless `skipInvalid`, which stores the valid records and reports the rest.
/// Storing goes in batches of `batchSize` events, one transaction each. A file of at most
/// `keptRecordLimit` records is parsed once: the validation pass (one segment per processor) also
/// pseudonymises its events into batches, kept in memory and stored in file order once the whole file
/// proved valid. Larger files (and `skipInvalid`) are read again to store, with the next batch being
/// parsed and pseudonymised while the previous one commits. If the store fails part-way, the batches
/// already committed stay; running the import again completes it without duplicates.
public struct EventImporter: Sendable {
    public let service: IngestService
    public let options: ImportOptions

    public init(service: IngestService, options: ImportOptions) throws {
        guard options.batchSize >= 1 else {
            throw VeilError(.invalidInput, field: "--batch-size", "must be at least 1")
        }
        self.service = service
        self.options = options
    }

    public func importFile(
        _ path: String, actor: String, progress: (@Sendable (ImportProgress) -> Void)? = nil
    ) async throws -> ImportFileReport {
        let started = ContinuousClock.now
        let file = try MappedFile(path: path)
        let name = (path as NSString).lastPathComponent
        let format = options.format(for: path)
        let validator = service.makeValidator(timestampFormat: options.timestampFormat, typeAliases: options.typeMap)
        var report = ImportFileReport(
            file: path, format: format, records: 0, accepted: 0, duplicates: 0, rejected: 0, stored: false,
            problems: [], problemsNotShown: 0, ignoredColumns: [], seconds: 0)
        func finish() -> ImportFileReport {
            let elapsed = ContinuousClock.now - started
            report.seconds = elapsed.seconds
            return report
        }

        let layout = try csvLayout(file, format: format, name: path)
        report.ignoredColumns = layout?.ignoredColumns ?? []

        if !options.skipInvalid {
            // All or nothing: validate the whole file (in parallel segments) before storing any of it.
            let check = try await validateAll(file, layout: layout, name: name, validator: validator)
            report.records = check.records
            report.rejected = check.rejected
            report.problems = check.problems
            report.problemsNotShown = check.problemsNotShown
            if report.rejected > 0 { return finish() }
            if let prepared = check.prepared {
                // The validation pass kept the file's events, pseudonymised: store those, in file order.
                try await store(prepared, path: path, bytesTotal: file.bytes.count, actor: actor, report: &report, progress: progress)
                report.stored = true
                return finish()
            }
            report.records = 0
            report.problems = []
        }

        var reader = makeReader(file, layout: layout)
        let now = service.nowMillis()
        var drafts: [EventProblemDraft] = []
        var pending: Task<BatchCommitSummary, any Error>? = nil
        var finished = false
        while !finished {
            var valid: [ValidEvent] = []
            valid.reserveCapacity(options.batchSize)
            while valid.count < options.batchSize {
                guard let (line, record) = reader.next() else {
                    finished = true
                    break
                }
                report.records += 1
                drafts.removeAll(keepingCapacity: true)
                if let event = IngestService.validate(withDefaults(record, name: name, line: line), validator, now, &drafts) {
                    valid.append(event)
                } else {
                    note(drafts, line: line, in: &report)
                }
            }
            let prepared = valid.isEmpty ? nil : service.prepare(valid)
            if let previous = pending {
                let done = try await previous.value
                report.accepted += done.inserted
                report.duplicates += done.duplicates
                progress?(
                    ImportProgress(
                        file: path, bytesRead: done.offset, bytesTotal: file.bytes.count, accepted: report.accepted,
                        duplicates: report.duplicates, rejected: report.rejected))
            }
            pending = nil
            if let prepared {
                let service = service
                let offset = reader.offset
                pending = Task {
                    let result = try await service.commit(prepared, actor: actor)
                    return BatchCommitSummary(inserted: result.inserted, duplicates: result.duplicates, offset: offset)
                }
            }
        }
        if let previous = pending {
            let done = try await previous.value
            report.accepted += done.inserted
            report.duplicates += done.duplicates
        }
        progress?(
            ImportProgress(
                file: path, bytesRead: file.bytes.count, bytesTotal: file.bytes.count, accepted: report.accepted,
                duplicates: report.duplicates, rejected: report.rejected))
        report.stored = true
        return finish()
    }

    /// Commits batches prepared by the validation pass, one transaction each, in order.
    private func store(
        _ batches: [PreparedChunk], path: String, bytesTotal: Int, actor: String, report: inout ImportFileReport,
        progress: (@Sendable (ImportProgress) -> Void)?
    ) async throws {
        for chunk in batches {
            let result = try await service.commit(chunk.batch, actor: actor)
            report.accepted += result.inserted
            report.duplicates += result.duplicates
            progress?(
                ImportProgress(
                    file: path, bytesRead: chunk.offset, bytesTotal: bytesTotal, accepted: report.accepted,
                    duplicates: report.duplicates, rejected: report.rejected))
        }
        progress?(
            ImportProgress(
                file: path, bytesRead: bytesTotal, bytesTotal: bytesTotal, accepted: report.accepted,
                duplicates: report.duplicates, rejected: report.rejected))
    }

    /// A batch the validation pass prepared, and the file offset after its last record.
    private struct PreparedChunk: Sendable {
        var batch: IngestService.PreparedBatch
        var offset: Int
    }

    /// A file of at most this many records is parsed once: the validation pass keeps its events,
    /// pseudonymised, for the store pass (about 200 bytes each). Larger files are read twice.
    static let keptRecordLimit = 2_000_000

    private struct BatchCommitSummary: Sendable {
        var inserted: Int
        var duplicates: Int
        var offset: Int
    }

    private func csvLayout(_ file: MappedFile, format: ImportOptions.Format, name: String) throws -> RecordReader.CSVLayout? {
        guard format == .csv else { return nil }
        return try RecordReader.csvLayout(file.bytes, delimiter: options.delimiter, map: options.columnMap, file: name)
    }

    private func makeReader(
        _ file: MappedFile, layout: RecordReader.CSVLayout?, range: Range<Int>? = nil, firstLine: Int? = nil
    ) -> RecordReader {
        if let layout { return RecordReader(csv: file.bytes, layout: layout, range: range, firstLine: firstLine) }
        return RecordReader(ndjson: file.bytes, range: range, firstLine: firstLine ?? 1)
    }

    /// The outcome of validating (part of) a file without storing it.
    private struct Check: Sendable {
        var records = 0
        var rejected = 0
        var problems: [EventProblem] = []
        var problemsNotShown = 0
        /// The segment's valid events, prepared in batches, while it has no problems and is small
        /// enough to keep; nil otherwise.
        var prepared: [PreparedChunk]? = []
    }

    /// Validates every record of the file, one segment per processor, and merges the problems in
    /// line order.
    private func validateAll(
        _ file: MappedFile, layout: RecordReader.CSVLayout?, name: String, validator: EventValidator
    ) async throws -> Check {
        let segments = RecordReader.segments(
            file.bytes, from: layout?.bodyStart ?? 0, firstLine: layout?.bodyFirstLine ?? 1,
            parts: max(1, ProcessInfo.processInfo.activeProcessorCount))
        let now = service.nowMillis()
        let limit = options.maxReportedProblems
        let keepLimit = Self.keptRecordLimit / max(1, segments.count)
        let batchSize = options.batchSize
        let service = service
        let parts = try await withThrowingTaskGroup(of: (Int, Check).self) { group in
            for (number, segment) in segments.enumerated() {
                group.addTask {
                    var reader = makeReader(file, layout: layout, range: segment.range, firstLine: segment.firstLine)
                    var check = Check()
                    var drafts: [EventProblemDraft] = []
                    var valid: [ValidEvent] = []
                    while let (line, record) = reader.next() {
                        check.records += 1
                        drafts.removeAll(keepingCapacity: true)
                        if let event = IngestService.validate(withDefaults(record, name: name, line: line), validator, now, &drafts) {
                            guard check.prepared != nil else { continue }
                            if check.records > keepLimit {
                                check.prepared = nil
                                valid = []
                                continue
                            }
                            if valid.isEmpty { valid.reserveCapacity(batchSize) }
                            valid.append(event)
                            if valid.count >= batchSize {
                                check.prepared?.append(PreparedChunk(batch: service.prepare(valid), offset: reader.offset))
                                valid.removeAll(keepingCapacity: true)
                            }
                        } else {
                            check.prepared = nil
                            valid = []
                            check.rejected += 1
                            for draft in drafts {
                                if check.problems.count < limit {
                                    check.problems.append(EventProblem(index: line, field: draft.field, message: draft.message))
                                } else {
                                    check.problemsNotShown += 1
                                }
                            }
                        }
                    }
                    if !valid.isEmpty {
                        check.prepared?.append(PreparedChunk(batch: service.prepare(valid), offset: reader.offset))
                    }
                    return (number, check)
                }
            }
            var parts: [(Int, Check)] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var total = Check()
        for part in parts {
            if let prepared = part.prepared { total.prepared?.append(contentsOf: prepared) } else { total.prepared = nil }
            total.records += part.records
            total.rejected += part.rejected
            total.problemsNotShown += part.problemsNotShown
            for problem in part.problems {
                if total.problems.count < limit { total.problems.append(problem) } else { total.problemsNotShown += 1 }
            }
        }
        return total
    }

    /// Fills what an import may leave out: `event_id` (file name + line) and a constant `type`.
    private func withDefaults(_ record: ParsedRecord, name: String, line: Int) -> ParsedRecord {
        guard case .event(var event) = record else { return record }
        if event.eventID == nil { event.eventID = .string("\(name):\(line)") }
        if event.type == nil, let type = options.constantType { event.type = .string(type.rawValue) }
        return .event(event)
    }

    private func note(_ drafts: [EventProblemDraft], line: Int, in report: inout ImportFileReport) {
        report.rejected += 1
        for draft in drafts {
            if report.problems.count < options.maxReportedProblems {
                report.problems.append(EventProblem(index: line, field: draft.field, message: draft.message))
            } else {
                report.problemsNotShown += 1
            }
        }
    }
}
