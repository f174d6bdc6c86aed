import VeilCore
import Yams

/// Walks a composed YAML document into a `Policy`, collecting every issue, then applies the rules
/// that span keys.
struct PolicyReader {
    private(set) var log = IssueLog()

    var issues: [PolicyIssue] { log.issues }

    /// The policy described by `root` (defaults for whatever it leaves out). An empty document is the
    /// default policy.
    mutating func read(_ root: Node?) -> Policy {
        var policy = Policy()
        guard let root, !YAMLFile.isEmpty(root) else { return policy }
        MappingReader.read(root, section: nil, fields: PolicySchema.root, into: &policy, log: &log)
        PolicyRules.check(policy, &log)
        return policy
    }
}

/// Rules between keys. A rule is skipped when a key it involves already has an issue, so one mistake
/// is reported once.
enum PolicyRules {
    static func check(_ policy: Policy, _ log: inout IssueLog) {
        let budget = policy.budget
        let total = "budget.total_epsilon"
        guard log.isSound(total) else { return }
        let perRequest = "budget.max_epsilon_per_request"
        if log.isSound(perRequest), budget.maxEpsilonPerRequest > budget.totalEpsilon {
            log.fail(
                perRequest, "must not exceed \(total) (\(NumberText.format(budget.maxEpsilonPerRequest)) > \(NumberText.format(budget.totalEpsilon)))",
                line: log.line(of: perRequest) ?? log.line(of: total))
        }
        for (section, caps) in [("budget.per_role", budget.perRole), ("budget.per_principal", budget.perPrincipal)] {
            for (name, cap) in caps.sorted(by: { $0.key < $1.key }) where cap > budget.totalEpsilon {
                let key = "\(section).\(name)"
                log.fail(key, "must not exceed \(total) (\(NumberText.format(cap)) > \(NumberText.format(budget.totalEpsilon)))", line: log.line(of: key))
            }
        }
    }
}
