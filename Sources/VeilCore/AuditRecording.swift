/// Where use cases record what they did when nothing else changes (a refusal, a score, a query run
/// after its spend, a re-identification). A change of state is recorded by the store call that makes
/// it, in the same transaction (the stores take an `AuditDraft`).
///
/// Contract: `record` returns only after the record is durably committed; `details` never hold a raw
/// user ID, session ID, token or secret — pseudonyms, counts and parameters only.
public protocol AuditRecording: Sendable {
    /// Appends one record in a transaction of its own and returns its sequence number.
    @discardableResult
    func record(_ draft: AuditDraft) async throws -> UInt64
}

extension AuditRecording {
    /// Appends one record; see `record(_:)`.
    @discardableResult
    public func record(actor: String, action: AuditAction, details: [String: JSONValue]) async throws -> UInt64 {
        try await record(AuditDraft(actor: actor, action: action, details: details))
    }
}
