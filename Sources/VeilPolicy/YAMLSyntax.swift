import Yams

/// Turns a Yams parse error into a `PolicyIssue` with the line, without echoing file content.
package enum YAMLSyntax {
    package static func issue(for error: any Error) -> PolicyIssue {
        guard let yamlError = error as? YamlError else {
            return PolicyIssue(field: nil, rule: "is not valid YAML", line: nil)
        }
        switch yamlError {
        case .parser(_, let problem, let mark, _) where problem.hasPrefix("Maximum nesting level reached"):
            return PolicyIssue(field: nil, rule: "is not valid YAML: sections and lists nest deeper than 1000 levels", line: mark.line)
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return PolicyIssue(field: nil, rule: "is not valid YAML: \(problem)", line: mark.line)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().joined(separator: ", ")
            return PolicyIssue(
                field: nil, rule: "key \(keys) appears more than once in one section; keep one",
                line: context.mark.line > 0 ? context.mark.line : nil)
        default:
            return PolicyIssue(field: nil, rule: "is not valid YAML", line: nil)
        }
    }
}
