import VeilCore

/// Small named values the service keeps about itself (e.g. the hash of the last policy recorded).
///
/// Contract: `set` and its audit record, when one is given, commit in one transaction.
public protocol SettingsStore: Sendable {
    func value(for key: String) async throws -> String?
    func set(_ value: String, for key: String, audit: AuditDraft?) async throws
}

/// The settings Veil keeps, named once.
public enum SettingKey {
    /// The hash of the last policy recorded with `policy.load`.
    public static let policyHash = "policy_hash"
    /// The last checkpoint `veil audit checkpoint` signed (its JSON), shown and checked by `GET /v1/audit/status`.
    public static let lastAuditCheckpoint = "last_audit_checkpoint"
}
