/// What a caller of the HTTP API may do. A bearer token carries exactly one role.
///
/// Each endpoint requires one role; `admin` may do everything.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Storefronts sending events (`POST /v1/events`).
    case ingest
    /// Data scientists running DP aggregate queries.
    case analyst
    /// Training models within the budget.
    case trainer
    /// Compliance reviewers approving models for serving.
    case reviewer
    /// Auditors reading the budget and the audit log.
    case auditor
    /// Operators: every endpoint, including erasure.
    case admin

    /// Whether a holder of this role may call an endpoint that requires `required`.
    public func permits(_ required: Role) -> Bool {
        self == .admin || self == required
    }

    public var description: String { rawValue }
}

/// Who is calling: the name of the token presented and its role. The name is what use cases record as
/// the `actor` (audit log, budget per principal); it is chosen by an operator and is not personal data.
public struct Principal: Sendable, Hashable, Codable {
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}
