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

/// Who is calling: the name of the token presented (HTTP) or given with `--as` / `VEIL_PRINCIPAL` (CLI)
/// and its role. The name is what use cases record as the `actor` (audit log, budget per principal,
/// who trained and who reviewed a model); it is chosen by an operator and is not personal data.
public struct Principal: Sendable, Hashable, Codable {
    public var name: String
    public var role: Role

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }

    /// The principal the CLI acts as when no name is given.
    public static let defaultCLIName = "cli"

    /// The rule for every principal name (a token's name, a CLI `--as`), stated once: names appear in
    /// logs, audit records and budgets, so they are 1–64 characters of `A–Z a–z 0–9 . _ -`.
    /// Throws `.invalidInput` naming `field`; the name itself is not echoed.
    public static func checkName(_ name: String, field: String) throws {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
        else {
            throw VeilError(.invalidInput, field: field, "must be 1–64 characters of letters, digits, '.', '_' or '-'")
        }
    }
}
