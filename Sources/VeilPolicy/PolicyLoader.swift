import Foundation
import VeilCore
import VeilCrypto
import Yams

/// Reads and validates YAML policy files (`policies/default.yaml` documents every key).
///
/// Contract: every key present must be known, of the right type and in range; a key left out takes the
/// default from `Policy`. Problems are reported as `PolicyIssue`s naming the dotted key, the rule and
/// the line; `check` collects all of them, `load` throws.
public enum PolicyLoader {
    /// Loads the policy at `path`, or throws a `VeilError` with code `invalidInput` for the first
    /// problem (its message says how many more there are; `check` lists them all) — or code `notFound`
    /// when the file cannot be read.
    public static func load(path: String) throws -> LoadedPolicy {
        switch try check(path: path) {
        case .valid(let loaded):
            return loaded
        case .invalid(_, _, let issues):
            let first = issues[0].error
            guard issues.count > 1 else { throw first }
            let more = issues.count - 1
            throw VeilError(
                first.code, field: first.field,
                "\(first.message); and \(more) more problem\(more == 1 ? "" : "s") (run `veil policy check \(path)`)")
        }
    }

    /// Checks the policy at `path`, collecting every issue. Throws only when the file cannot be read.
    public static func check(path: String) throws -> PolicyCheck {
        switch YAMLFile.read(path: path, maxBytes: maxFileBytes, what: "a policy") {
        case nil:
            throw VeilError(.notFound, field: path, "cannot read the policy file; check the path (--policy, env VEIL_POLICY)")
        case .unreadable(let issue, let bytes)?:
            return .invalid(path: path, hash: bytes.map { Hex.encode(BLAKE2b.hash256($0)) }, issues: [issue])
        case .text(let text, let bytes)?:
            let hash = Hex.encode(BLAKE2b.hash256(bytes))
            switch parse(yaml: text) {
            case .success(let policy): return .valid(LoadedPolicy(policy: policy, hash: hash, path: path))
            case .failure(let failure): return .invalid(path: path, hash: hash, issues: failure.issues)
            }
        }
    }

    /// The largest policy file read (1 MiB; the default policy is 7 KB).
    public static let maxFileBytes = 1 << 20

    /// Parses and validates policy YAML text (no file, no hash). Nesting is bounded by libyaml (1,000
    /// levels, an error naming the line); `PolicyLoaderTests` checks that this depth cannot crash.
    public static func parse(yaml text: String) -> Result<Policy, PolicyIssues> {
        let root: Node?
        switch YAMLFile.compose(text) {
        case .success(let node): root = node
        case .failure(let issue): return .failure(PolicyIssues([issue]))
        }
        var reader = PolicyReader()
        let policy = reader.read(root)
        return reader.issues.isEmpty ? .success(policy) : .failure(PolicyIssues(reader.issues))
    }
}

/// The issues found in a policy, as an error value.
public struct PolicyIssues: Error, Sendable, Hashable {
    public let issues: [PolicyIssue]
    public init(_ issues: [PolicyIssue]) { self.issues = issues }
}
