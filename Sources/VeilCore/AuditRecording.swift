/// Where use cases record what they did. `VeilAudit`'s signed log implements it.
///
/// Contract: `record` returns only after the record is durably written (synced); a use case that
/// changes state or spends budget calls it before acknowledging the action. `details` must never hold
/// a raw user ID, session ID, token or secret — pseudonyms, counts and parameters only.
public protocol AuditRecording: Sendable {
    /// Appends one record and returns its sequence number.
    @discardableResult
    func record(actor: String, action: AuditAction, details: [String: JSONValue]) throws -> UInt64
}
