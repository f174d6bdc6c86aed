import Foundation
import VeilCore

/// A model's review state. Only `approved` models serve predictions; a reviewer may withdraw an
/// approved model (`revoked`), after which it never serves again.
public enum ModelState: String, Sendable, Codable, CaseIterable {
    case candidate, approved, rejected, revoked
}

/// One model in the registry. The artifact itself is kept by a `ModelArtifactStore` under `id`.
public struct ModelRecord: Codable, Sendable, Equatable {
    /// Hex of the first 16 bytes of BLAKE2b-256 of the artifact bytes.
    public var id: String
    public var task: String
    public var state: ModelState
    /// False for a non-private model, which can never be approved.
    public var isPrivate: Bool
    public var epsilon: Double?
    public var createdMillis: Int64
    /// The principal whose run registered the model (the actor of its `model.train` record); nil for a
    /// model registered before Veil recorded it. It can never approve the model.
    public var trainer: String?
    /// The ledger spend (`budget.spend` record's `spend_id`) that paid for the training run; nil for a
    /// non-private run and for a model registered before Veil recorded it. When the same artifact is
    /// registered again the first registration's spend stays.
    public var spendId: Int64?
    public var reviewer: String?
    public var reviewNote: String?
    public var reviewedMillis: Int64?
    /// Why the reviewer approved a model that does not beat its baselines (`QualityGate`); nil otherwise.
    public var qualityOverride: String?
    /// Who withdrew the approval, why, and when (`revoked` models only).
    public var revokedBy: String?
    public var revokeNote: String?
    public var revokedMillis: Int64?

    public init(id: String, task: String, isPrivate: Bool, epsilon: Double?, createdMillis: Int64, trainer: String? = nil) {
        self.id = id
        self.task = task
        state = .candidate
        self.isPrivate = isPrivate
        self.epsilon = epsilon
        self.createdMillis = createdMillis
        self.trainer = trainer
    }

    enum CodingKeys: String, CodingKey {
        case id, task, state, epsilon, trainer, reviewer
        case isPrivate = "is_private"
        case createdMillis = "created_ms"
        case reviewNote = "review_note"
        case reviewedMillis = "reviewed_ms"
        case spendId = "spend_id"
        case qualityOverride = "quality_override"
        case revokedBy = "revoked_by"
        case revokeNote = "revoke_note"
        case revokedMillis = "revoked_ms"
    }
}

extension ModelRecord {
    /// The review rule every backend applies, stated once: `stored` (nil when no model has `id`) moved
    /// from `candidate` to `state` by `reviewer` (with `qualityOverride`, an approval's reason to pass a
    /// model that does not beat its baselines); `.notFound` for no model, `.invalidInput` for one that
    /// is not a candidate any more.
    public static func reviewing(
        _ stored: ModelRecord?, id: String, to state: ModelState, reviewer: String, note: String, qualityOverride: String? = nil,
        atMillis: Int64
    ) throws -> ModelRecord {
        var record = try existing(stored, id: id)
        guard record.state == .candidate else {
            throw VeilError(
                .invalidInput, field: "model_id", "model \(id) is already \(record.state.rawValue); only a candidate can be reviewed")
        }
        record.state = state
        record.reviewer = reviewer
        record.reviewNote = note
        record.qualityOverride = qualityOverride
        record.reviewedMillis = atMillis
        return record
    }

    /// `stored`, or `.notFound` naming `id` when no model has it.
    static func existing(_ stored: ModelRecord?, id: String) throws -> ModelRecord {
        guard let record = stored else {
            throw VeilError(.notFound, field: "model_id", "no model \(id); see `veil models list`")
        }
        return record
    }

    /// The revocation rule every backend applies: `stored` (nil when no model has `id`) moved from
    /// `approved` to `revoked` by `reviewer`; `.notFound` for no model, `.invalidInput` for one that is
    /// not approved. The approval (`reviewer`, `review_note`, `reviewed_ms`) is kept beside it.
    public static func revoking(
        _ stored: ModelRecord?, id: String, by reviewer: String, note: String, atMillis: Int64
    ) throws -> ModelRecord {
        var record = try existing(stored, id: id)
        guard record.state == .approved else {
            throw VeilError(
                .invalidInput, field: "model_id", "model \(id) is \(record.state.rawValue); only an approved model can be revoked")
        }
        record.state = .revoked
        record.revokedBy = reviewer
        record.revokeNote = note
        record.revokedMillis = atMillis
        return record
    }
}

/// The persisted model registry.
///
/// Contract: each change and its audit record commit in one transaction — a registration with its
/// `model.train` record, a review with its `model.approve` / `model.reject` record, a revocation with
/// its `model.revoke` record.
public protocol ModelStore: Sendable {
    /// Stores `record` unless a model with its id exists (the same artifact bytes: the same model), seals
    /// `audit` either way, and returns the stored record.
    func register(_ record: ModelRecord, audit: AuditDraft) async throws -> ModelRecord
    /// All models, newest first.
    func all() async throws -> [ModelRecord]
    func find(id: String) async throws -> ModelRecord?
    /// Moves a `candidate` to `approved` or `rejected` (`ModelRecord.reviewing`) and seals
    /// `audit(reviewed)`, atomically; throws `.invalidInput` if the model is not a candidate any more and
    /// `.notFound` if it does not exist.
    func review(
        id: String, to state: ModelState, reviewer: String, note: String, qualityOverride: String?, atMillis: Int64,
        audit: @escaping @Sendable (ModelRecord) -> AuditDraft
    ) async throws -> ModelRecord
    /// Moves an `approved` model to `revoked` (`ModelRecord.revoking`) and seals `audit(revoked)`,
    /// atomically; throws `.invalidInput` if the model is not approved and `.notFound` if it does not exist.
    func revoke(
        id: String, by reviewer: String, note: String, atMillis: Int64,
        audit: @escaping @Sendable (ModelRecord) -> AuditDraft
    ) async throws -> ModelRecord
    /// The most recently approved model for `task` that is still approved, if any.
    func serving(task: String) async throws -> ModelRecord?
}

/// Where model artifacts are kept, by id. The id is the content hash of the bytes (computed by the
/// caller, `ModelRegistry.modelID`), so an artifact never changes once stored.
///
/// Contract: `put` returns only when the bytes are durable; putting an id that is stored already
/// changes nothing. `artifact` returns the bytes as stored (the caller checks them against the id).
public protocol ModelArtifactStore: Sendable {
    func put(_ artifact: Data, id: String) async throws
    func artifact(id: String) async throws -> Data?
}
