import Foundation
import VeilCore
import VeilCrypto
import VeilStore

/// Model artifacts and their review: files in `<data-dir>/models/<id>.json`, named by the hash of their
/// content, with state in the `models` table.
///
/// Contract:
/// - `id` = lowercase hex of the first 16 bytes of BLAKE2b-256(artifact bytes); registering the same
///   bytes twice yields the same id and one model.
/// - A model starts as `candidate`; a reviewer moves it once to `approved` or `rejected` (audited with
///   the reviewer's note). A non-private model can never be approved. Only approved models serve.
public final class ModelRegistry: Sendable {
    private let directory: String
    private let store: any ModelStore
    private let audit: (any AuditRecording)?
    private let clock: WallClock

    /// `clock` stamps registrations and reviews (tests pass a fixed one).
    public init(dataDirectory: String, store: any ModelStore, audit: (any AuditRecording)?, clock: WallClock = .system) {
        directory = (dataDirectory as NSString).appendingPathComponent("models")
        self.store = store
        self.audit = audit
        self.clock = clock
    }

    /// The id an artifact gets.
    public static func modelID(of artifact: Data) -> String {
        Hex.encode(BLAKE2b.hash256([UInt8](artifact)).prefix(16))
    }

    /// Writes the artifact (synced, then renamed into place) and records it as a candidate.
    @discardableResult
    public func register(artifact: Data, task: String, isPrivate: Bool, epsilon: Double?) throws -> ModelRecord {
        let id = Self.modelID(of: artifact)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = artifactPath(id)
        if !FileManager.default.fileExists(atPath: path) {
            let temporary = path + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: artifact) else {
                throw VeilError(.unavailable, field: temporary, "cannot write the model artifact")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            try handle.synchronize()
            try handle.close()
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        }
        let record = ModelRecord(
            id: id, task: task, isPrivate: isPrivate, epsilon: epsilon,
            createdMillis: clock.nowMillis())
        try store.insert(record)
        return try store.find(id: id) ?? record
    }

    /// The artifact bytes of model `id`, checked against its name.
    public func artifact(id: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: artifactPath(id)) else {
            throw VeilError(.notFound, field: "model_id", "no artifact for model \(id) in \(directory)")
        }
        guard Self.modelID(of: data) == id else {
            throw VeilError(.integrity, field: artifactPath(id), "the artifact's content does not match its name; it was altered")
        }
        return data
    }

    public func list() throws -> [ModelRecord] { try store.all() }

    public func find(id: String) throws -> ModelRecord {
        guard let record = try store.find(id: id) else {
            throw VeilError(.notFound, field: "model_id", "no model \(id); see `veil models list`")
        }
        return record
    }

    /// The approved model that serves `task`, or a `.notFound` error saying none is approved.
    public func serving(task: String) throws -> ModelRecord {
        guard let record = try store.serving(task: task) else {
            throw VeilError(
                .notFound, field: "task",
                "no approved model for task \(task); train one and have a reviewer approve it (`veil models approve`)")
        }
        return record
    }

    /// Approves a candidate. Refuses a non-private model.
    public func approve(id: String, reviewer: String, note: String) throws -> ModelRecord {
        let record = try find(id: id)
        guard record.isPrivate else {
            throw VeilError(.forbidden, field: "model_id", "model \(id) was trained without differential privacy and can never be served")
        }
        return try review(id: id, to: .approved, reviewer: reviewer, note: note)
    }

    /// Rejects a candidate.
    public func reject(id: String, reviewer: String, note: String) throws -> ModelRecord {
        try review(id: id, to: .rejected, reviewer: reviewer, note: note)
    }

    private func review(id: String, to state: ModelState, reviewer: String, note: String) throws -> ModelRecord {
        let reviewed = try store.review(
            id: id, to: state, reviewer: reviewer, note: note, atMillis: clock.nowMillis())
        try audit?.record(
            actor: reviewer, action: state == .approved ? .modelApprove : .modelReject,
            details: ["model_id": .string(id), "task": .string(reviewed.task), "note": .string(note)])
        return reviewed
    }

    private func artifactPath(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).json") }
}
