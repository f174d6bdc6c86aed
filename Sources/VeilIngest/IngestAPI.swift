import Foundation
import VeilCore

/// How a batch of events is framed on the wire.
public enum EventBatchFormat: Sendable {
    /// One JSON object per line (`application/x-ndjson`).
    case ndjson
    /// One JSON array of objects (`application/json`).
    case jsonArray
}

/// The result of a committed batch.
public struct IngestSummary: Sendable, Codable, Equatable {
    /// Events newly stored.
    public var accepted: Int
    /// Events whose `event_id` was already stored; counted, never stored twice.
    public var duplicates: Int
    /// Free-form properties dropped because the policy does not list their key or bounds them
    /// otherwise (`properties_dropped`, present only when some were).
    public var propertiesDropped: Int?

    public init(accepted: Int, duplicates: Int, propertiesDropped: Int = 0) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.propertiesDropped = propertiesDropped == 0 ? nil : propertiesDropped
    }

    enum CodingKeys: String, CodingKey {
        case accepted, duplicates
        case propertiesDropped = "properties_dropped"
    }
}

/// One invalid event in a batch: where it is, which field, and which rule it broke.
/// `message` never contains the offending value (it could be personal data).
public struct EventProblem: Sendable, Codable, Equatable {
    /// 0-based position in the batch (HTTP) or 1-based line number (file import).
    public var index: Int
    public var field: String
    public var message: String

    public init(index: Int, field: String, message: String) {
        self.index = index
        self.field = field
        self.message = message
    }
}

/// A batch with at least one invalid event. Nothing of the batch was stored.
public struct BatchRejected: Error, Sendable, Equatable {
    /// Every problem found, in batch order.
    public var problems: [EventProblem]
    /// Events with at least one problem.
    public var rejectedEvents: Int
    /// The problems grouped by rule, with the unknown type values.
    public var summary: ProblemSummary

    public init(problems: [EventProblem], rejectedEvents: Int, summary: ProblemSummary) {
        self.problems = problems
        self.rejectedEvents = rejectedEvents
        self.summary = summary
    }
}

/// The body of a 422 for invalid events (`POST /v1/events`; `EventProblems` in docs/openapi.yaml): the
/// first `maxListedProblems` problems by position, how many more there are, and every problem grouped by
/// rule. The gateway writes it and `veil push` reads it.
public struct EventProblemsBody: Sendable, Codable, Equatable {
    /// The problems listed one by one; the summary counts them all.
    public static let maxListedProblems = 100

    public var errors: [EventProblem]
    public var errorsNotShown: Int
    public var summary: ProblemSummary

    public init(_ rejected: BatchRejected) {
        errors = Array(rejected.problems.prefix(Self.maxListedProblems))
        errorsNotShown = rejected.problems.count - errors.count
        summary = rejected.summary
    }

    enum CodingKeys: String, CodingKey {
        case errors, summary
        case errorsNotShown = "errors_not_shown"
    }
}

/// The ingest use case as the faces see it.
public protocol EventIngesting: Sendable {
    /// Parses, validates, minimises, pseudonymises, escrows new identities and stores one batch, all or
    /// nothing. Returns only after the batch is durably committed.
    ///
    /// Throws `BatchRejected` (nothing stored) when any event is invalid; `VeilError(.tooLarge)` past the
    /// policy's batch limit; `VeilError(.unavailable)` when the store cannot commit (retry later).
    func ingestBatch(_ body: Data, format: EventBatchFormat, actor: String) async throws -> IngestSummary
}
