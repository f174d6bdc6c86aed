import VeilCore

/// What a mapping does to a parsed record besides computing fields: constants fill what a record
/// leaves empty, and the type value map renames types or drops the record (`skip`).
struct RecordMapper: Sendable {
    let constants: [(field: EventField, value: RawValue)]
    let types: [String: ImportMapping.TypeTarget]

    init(_ mapping: ImportMapping) {
        constants = EventField.allCases.compactMap { field in mapping.constants[field].map { (field, $0) } }
        types = mapping.types
    }

    enum Outcome {
        case record(ParsedRecord)
        /// Dropped by a `skip` entry for this type value (a value from the mapping, never from the file).
        case skipped(String)
    }

    func apply(_ record: ParsedRecord) -> Outcome {
        guard case .event(var event) = record else { return .record(record) }
        for (field, value) in constants {
            switch event[field] {
            case nil, .null?: event[field] = value
            default: break
            }
        }
        if !types.isEmpty, case .string(let name)? = event.type, let target = types[name] {
            switch target {
            case .skip: return .skipped(name)
            case .type(let type): event.type = .string(type.rawValue)
            }
        }
        return .record(.event(event))
    }
}

/// What a pass over a file (or one segment of it) saw: counts, problems by line and by rule, events
/// per type and the time range of the valid ones, records skipped by value, and the first valid events
/// (kept in memory only, for a dry run's preview). Tallies of consecutive segments merge in order.
struct FileTally: Sendable {
    var records = 0
    var rejected = 0
    /// The first problems, by line.
    var problems: [EventProblem] = []
    var problemsNotShown = 0
    var summary: ProblemTally
    var types: [EventType: Int] = [:]
    var skipped: [String: Int] = [:]
    /// Free-form properties of valid records that were dropped (not in the policy, or out of bounds).
    var propertiesDropped = 0
    var earliest: Int64?
    var latest: Int64?
    /// The first valid events and their lines. Holds raw IDs: never leaves the import unpseudonymised.
    var preview: [(line: Int, event: ValidEvent)] = []

    init(showsTypeValues: Bool) { summary = ProblemTally(showsTypeValues: showsTypeValues) }

    mutating func merge(_ later: FileTally, problemLimit: Int, previewLimit: Int) {
        records += later.records
        rejected += later.rejected
        problemsNotShown += later.problemsNotShown
        for problem in later.problems {
            if problems.count < problemLimit { problems.append(problem) } else { problemsNotShown += 1 }
        }
        summary.merge(later.summary)
        types.merge(later.types, uniquingKeysWith: +)
        skipped.merge(later.skipped, uniquingKeysWith: +)
        propertiesDropped += later.propertiesDropped
        earliest = [earliest, later.earliest].compactMap { $0 }.min()
        latest = [latest, later.latest].compactMap { $0 }.max()
        preview += later.preview.prefix(max(0, previewLimit - preview.count))
    }
}

/// Maps, validates and tallies records one at a time, in file order: the step every import path shares.
struct RecordPass {
    let mapper: RecordMapper
    let validator: EventValidator
    let now: Int64
    let problemLimit: Int
    let previewLimit: Int
    var tally: FileTally
    private var drafts: [EventProblemDraft] = []

    init(mapper: RecordMapper, validator: EventValidator, now: Int64, problemLimit: Int, previewLimit: Int, showsTypeValues: Bool) {
        self.mapper = mapper
        self.validator = validator
        self.now = now
        self.problemLimit = problemLimit
        self.previewLimit = previewLimit
        tally = FileTally(showsTypeValues: showsTypeValues)
    }

    /// The valid event `record` (at `line`) gives, or nil when it is skipped or invalid (tallied).
    mutating func take(_ record: ParsedRecord, line: Int) -> ValidEvent? {
        tally.records += 1
        let mapped: ParsedRecord
        switch mapper.apply(record) {
        case .skipped(let value):
            tally.skipped[value, default: 0] += 1
            return nil
        case .record(let record):
            mapped = record
        }
        drafts.removeAll(keepingCapacity: true)
        guard let event = IngestService.validate(mapped, validator, now, &drafts) else {
            tally.rejected += 1
            for draft in drafts {
                if tally.problems.count < problemLimit {
                    tally.problems.append(EventProblem(index: line, field: draft.field, message: draft.message))
                } else {
                    tally.problemsNotShown += 1
                }
            }
            tally.summary.add(drafts, at: line, record: mapped)
            return nil
        }
        tally.types[event.type, default: 0] += 1
        tally.propertiesDropped += event.droppedProperties
        tally.earliest = min(tally.earliest ?? event.timestampMillis, event.timestampMillis)
        tally.latest = max(tally.latest ?? event.timestampMillis, event.timestampMillis)
        if tally.preview.count < previewLimit { tally.preview.append((line, event)) }
        return event
    }
}
