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

    public init(accepted: Int, duplicates: Int) {
        self.accepted = accepted
        self.duplicates = duplicates
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

    public init(problems: [EventProblem]) { self.problems = problems }
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
