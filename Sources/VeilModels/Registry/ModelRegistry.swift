import Foundation
import VeilCore
import VeilCrypto
import VeilStore

/// Model artifacts and their review: artifacts in a `ModelArtifactStore` named by the hash of their
/// content, records and review state in a `ModelStore`.
///
/// Contract:
/// - `id` = lowercase hex of the first 16 bytes of BLAKE2b-256(artifact bytes); registering the same
///   bytes twice yields the same id and one model. An artifact is checked against its id when read.
/// - The artifact is durable before its record is stored; the record and its `model.train` record
///   commit together.
/// - A model starts as `candidate`; a reviewer moves it once to `approved` or `rejected`, audited with
///   the reviewer's note in the same transaction. A non-private model can never be approved. Only
///   approved models serve.
/// - Separation of duties: the principal that trained a model (`trainer`) can never approve it
///   (`.forbidden`, field `reviewer`); nor can anyone approve a model whose trainer was not recorded
///   (registered before Veil recorded trainers): train it again. Rejecting and revoking are open to any
///   reviewer, the trainer included — they only take a model out of service.
/// - Quality gate: approving a model that does not beat its baselines (`QualityGate`) needs an
///   override note, recorded with the approval (`quality_override`) and in its `model.approve` record.
/// - A reviewer may revoke an approved model (`revoked`, audited as `model.revoke` with the note): it
///   stops serving from the next request on, in every process on the store, because `serving(task:)`
///   reads the store on each call. A revoked model never serves again; the task is served by the most
///   recently approved model that is still approved, if there is one.
public final class ModelRegistry: Sendable {
    private let store: any ModelStore
    private let artifacts: any ModelArtifactStore
    private let clock: WallClock

    /// `clock` stamps registrations and reviews (tests pass a fixed one).
    public init(store: any ModelStore, artifacts: any ModelArtifactStore, clock: WallClock = .system) {
        self.store = store
        self.artifacts = artifacts
        self.clock = clock
    }

    /// The id an artifact gets.
    public static func modelID(of artifact: Data) -> String {
        Hex.encode(BLAKE2b.hash256([UInt8](artifact)).prefix(16))
    }

    /// Stores the artifact (durably), then records it as a candidate trained by `trainer`, paid for by
    /// the spend `spendID` (nil for a non-private run), with the audit record `audit(id)` in one
    /// transaction.
    @discardableResult
    public func register(
        artifact: Data, task: String, isPrivate: Bool, epsilon: Double?, trainer: String, spendID: Int64? = nil,
        audit: (_ id: String) -> AuditDraft
    ) async throws -> ModelRecord {
        let id = Self.modelID(of: artifact)
        try await artifacts.put(artifact, id: id)
        var record = ModelRecord(
            id: id, task: task, isPrivate: isPrivate, epsilon: epsilon, createdMillis: clock.nowMillis(), trainer: trainer)
        record.spendId = spendID
        return try await store.register(record, audit: audit(id))
    }

    /// The artifact bytes of model `id`, checked against its name.
    public func artifact(id: String) async throws -> Data {
        guard let data = try await artifacts.artifact(id: id) else {
            throw VeilError(.notFound, field: "model_id", "no artifact for model \(id)")
        }
        guard Self.modelID(of: data) == id else {
            throw VeilError(.integrity, field: "model_id", "the artifact of model \(id) does not match its name; it was altered")
        }
        return data
    }

    public func list() async throws -> [ModelRecord] { try await store.all() }

    /// How many models are in each review state, every state listed (zeros included), in `ModelState` order.
    public func countsByState() async throws -> [(state: String, count: Int)] {
        let records = try await store.all()
        return ModelState.allCases.map { state in (state.rawValue, records.filter { $0.state == state }.count) }
    }

    public func find(id: String) async throws -> ModelRecord {
        guard let record = try await store.find(id: id) else {
            throw VeilError(.notFound, field: "model_id", "no model \(id); see `veil models list`")
        }
        return record
    }

    /// The shortest prefix `resolve` accepts, as git's.
    public static let minimumPrefix = 4

    /// The full id of the one model whose id starts with `prefix` (4 to 32 lowercase hex characters;
    /// a whole id is its own prefix), as git resolves abbreviated commits. No such model is `.notFound`;
    /// a prefix several ids start with is `.invalidInput` listing them all, so the caller can pick one.
    public func resolve(_ prefix: String) async throws -> String {
        guard (Self.minimumPrefix...32).contains(prefix.count), prefix.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw VeilError(
                .invalidInput, field: "model_id",
                "must be a model id or a unique prefix of one: \(Self.minimumPrefix) to 32 lowercase hex characters")
        }
        let candidates = try await store.all().map(\.id).filter { $0.hasPrefix(prefix) }.sorted()
        switch candidates.count {
        case 0: throw VeilError(.notFound, field: "model_id", "no model id starts with \(prefix); see `veil models list`")
        case 1: return candidates[0]
        default:
            throw VeilError(
                .invalidInput, field: "model_id",
                "\(prefix) is ambiguous: \(candidates.count) model ids start with it (\(candidates.joined(separator: ", "))); give more characters")
        }
    }

    /// The approved model that serves `task`, or a `.notFound` error saying none is approved (and,
    /// when the last one was revoked, which one and when).
    public func serving(task: String) async throws -> ModelRecord {
        guard let record = try await store.serving(task: task) else {
            let revoked = try await store.all().filter { $0.task == task && $0.state == .revoked }
                .max { ($0.revokedMillis ?? 0) < ($1.revokedMillis ?? 0) }
            let why = revoked.map { model in
                " (model \(model.id) was revoked at \(ModelFile.isoTime(millis: model.revokedMillis ?? 0)))"
            }
            throw VeilError(
                .notFound, field: "task",
                "no approved model for task \(task)\(why ?? ""); train one and have a reviewer approve it (`veil models approve`)")
        }
        return record
    }

    /// The most characters a review or revocation note may hold (after trimming).
    public static let maxNoteLength = 2000

    /// `note` without surrounding white space; `.invalidInput` (naming `field`) unless it holds 1 to
    /// `maxNoteLength` characters. Every decision carries a note: it is the reviewer's reason, audited.
    public static func checkedNote(_ note: String, field: String = "note") throws -> String {
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...maxNoteLength).contains(trimmed.count) else {
            throw VeilError(.invalidInput, field: field, "is required: 1 to \(maxNoteLength) characters saying why")
        }
        return trimmed
    }

    /// Approves a candidate. Refuses a non-private model, and a reviewer who trained it (or a model
    /// whose trainer is unrecorded). A model that fails its `QualityGate` needs `qualityOverride`, a
    /// note saying why it is approved anyway (recorded with the approval); one that passes takes none.
    /// The refusal states the gate's exact values only when `exactMetricsShown` (the CLI's operator;
    /// over HTTP, `ModelCard.showsExactMetrics`), else its number-free reason.
    public func approve(
        id: String, reviewer: String, note: String, qualityOverride: String? = nil, exactMetricsShown: Bool = true
    ) async throws -> ModelRecord {
        let note = try Self.checkedNote(note)
        let qualityOverride = try qualityOverride.map { try Self.checkedNote($0, field: "override_quality") }
        let record = try await find(id: id)
        guard record.isPrivate else {
            throw VeilError(.forbidden, field: "model_id", "model \(id) was trained without differential privacy and can never be served")
        }
        guard let trainer = record.trainer else {
            throw VeilError(
                .forbidden, field: "model_id",
                "model \(id) was registered before Veil recorded who trained a model, so approving it cannot be kept apart from training it; train it again, or reject it")
        }
        guard trainer != reviewer else {
            throw VeilError(
                .forbidden, field: "reviewer",
                "\(reviewer) trained model \(id) and cannot approve it; another principal must (`veil models approve --as NAME`, or a reviewer token)")
        }
        let gate = QualityGate.judge(card: try ModelFile.cardJSON(try await artifact(id: id)))
        let reason = exactMetricsShown ? gate.reason : QualityGate.numberFreeReason(passes: gate.passes)
        switch (gate.passes, qualityOverride) {
        case (false, nil):
            throw VeilError(
                .invalidInput, field: "override_quality",
                "model \(id) does not beat its baselines (\(reason)); approve it only with an override note saying why (`--override-quality NOTE`, or \"override_quality\" in the body)")
        case (true, .some):
            throw VeilError(
                .invalidInput, field: "override_quality", "model \(id) beats its baselines (\(reason)); there is nothing to override")
        default:
            return try await review(id: id, to: .approved, reviewer: reviewer, note: note, qualityOverride: qualityOverride)
        }
    }

    /// Rejects a candidate.
    public func reject(id: String, reviewer: String, note: String) async throws -> ModelRecord {
        try await review(id: id, to: .rejected, reviewer: reviewer, note: try Self.checkedNote(note), qualityOverride: nil)
    }

    /// Withdraws an approved model: it stops serving at once and never serves again.
    public func revoke(id: String, reviewer: String, note: String) async throws -> ModelRecord {
        let note = try Self.checkedNote(note)
        return try await store.revoke(id: id, by: reviewer, note: note, atMillis: clock.nowMillis()) { revoked in
            AuditDraft(
                actor: reviewer, action: .modelRevoke,
                details: ["model_id": .string(id), "task": .string(revoked.task), "note": .string(note)])
        }
    }

    private func review(
        id: String, to state: ModelState, reviewer: String, note: String, qualityOverride: String?
    ) async throws -> ModelRecord {
        try await store.review(
            id: id, to: state, reviewer: reviewer, note: note, qualityOverride: qualityOverride, atMillis: clock.nowMillis()
        ) { reviewed in
            var details: [String: JSONValue] = [
                "model_id": .string(id), "task": .string(reviewed.task), "note": .string(note),
                "trainer": reviewed.trainer.map(JSONValue.string) ?? .null,
            ]
            if let qualityOverride { details["quality_override"] = .string(qualityOverride) }
            return AuditDraft(actor: reviewer, action: state == .approved ? .modelApprove : .modelReject, details: details)
        }
    }
}
