import Yams

/// The issues found while reading a policy, and the line of every key read (for rules across keys).
package struct IssueLog {
    package private(set) var issues: [PolicyIssue] = []

    package init() {}
    private var lines: [String: Int] = [:]
    private var failed: Set<String> = []

    /// Records that `key` breaks `rule`, at the line of `node` when known.
    package mutating func fail(_ key: String?, _ rule: String, at node: Node?) {
        fail(key, rule, line: node?.mark?.line)
    }

    package mutating func fail(_ key: String?, _ rule: String, line: Int?) {
        issues.append(PolicyIssue(field: key, rule: rule, line: line))
        if let key { failed.insert(key) }
    }

    /// Remembers where `key` was written.
    package mutating func note(_ key: String, at node: Node) {
        if let line = node.mark?.line { lines[key] = line }
    }

    /// The line `key` was written on, if it was.
    package func line(of key: String) -> Int? { lines[key] }

    /// True when `key` was read without an issue (or left to its default).
    package func isSound(_ key: String) -> Bool { !failed.contains(key) }
}
