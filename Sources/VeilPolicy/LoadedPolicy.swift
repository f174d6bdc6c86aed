import VeilCore

/// A policy read from a file: the validated `Policy`, where it came from and which exact bytes it was.
///
/// `hash` is the lowercase hex BLAKE2b-256 of the file's bytes, so an audit record or a model artifact
/// can name the precise policy it ran under.
public struct LoadedPolicy: Sendable, Hashable {
    public let policy: Policy
    /// Lowercase hex BLAKE2b-256 of the file bytes (64 characters).
    public let hash: String
    /// The path the policy was read from, as given.
    public let path: String

    public init(policy: Policy, hash: String, path: String) {
        self.policy = policy
        self.hash = hash
        self.path = path
    }
}

/// One broken rule in a policy file: the dotted key, the rule, and the line when it is known.
public struct PolicyIssue: Error, Sendable, Hashable, Encodable {
    /// The dotted key concerned (`budget.total_epsilon`), or nil for a problem with the file as a whole.
    public let field: String?
    /// What is wrong, phrased as the rule that was broken.
    public let rule: String
    /// The 1-based line in the file, when known.
    public let line: Int?

    public init(field: String?, rule: String, line: Int?) {
        self.field = field
        self.rule = rule
        self.line = line
    }

    /// The issue as Veil's error: code `invalidInput`, the dotted key as `field`, and the rule with
    /// `(line N)` appended when the line is known.
    public var error: VeilError {
        VeilError(.invalidInput, field: field, line.map { "\(rule) (line \($0))" } ?? rule)
    }
}

/// The outcome of checking a policy file: the loaded policy when it is valid, otherwise every issue found.
public enum PolicyCheck: Sendable {
    case valid(LoadedPolicy)
    case invalid(path: String, hash: String?, issues: [PolicyIssue])
}
