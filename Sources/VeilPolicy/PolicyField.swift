import Foundation
import VeilCore
import Yams

/// How one key of a YAML mapping is read into a value of type `Root` (a `Policy` or a part of it).
///
/// `read` gets the value node and the key's dotted name; it stores a valid value into `Root` and
/// records an issue in the log otherwise, leaving the default in place.
package struct PolicyField<Root> {
    package let key: String
    package let read: (_ node: Node, _ dottedKey: String, _ root: inout Root, _ log: inout IssueLog) -> Void

    package init(key: String, read: @escaping (_ node: Node, _ dottedKey: String, _ root: inout Root, _ log: inout IssueLog) -> Void) {
        self.key = key
        self.read = read
    }
}

/// A range rule for a number, with the wording used in messages.
package struct NumberRule: Sendable {
    package let text: String
    package let accepts: @Sendable (Double) -> Bool

    package init(text: String, accepts: @escaping @Sendable (Double) -> Bool) {
        self.text = text
        self.accepts = accepts
    }

    package static let positive = NumberRule(text: "must be a finite number greater than 0") { $0 > 0 && $0.isFinite }
    package static let openUnitInterval = NumberRule(text: "must be strictly between 0 and 1") { $0 > 0 && $0 < 1 }
    package static let finite = NumberRule(text: "must be a finite number") { $0.isFinite }

    /// A learning rate: greater than 0 and at most `Policy.Training.maxLearningRate` (a policy's defaults and a
    /// training request's `learning_rate` alike).
    package static let learningRate = NumberRule(
        text: "must be a number greater than 0 and at most \(NumberText.format(Policy.Training.maxLearningRate))"
    ) { $0 > 0 && $0 <= Policy.Training.maxLearningRate }

    /// A number in `range` (both ends included).
    package static func within(_ range: ClosedRange<Double>) -> NumberRule {
        NumberRule(text: "must be between \(NumberText.format(range.lowerBound)) and \(NumberText.format(range.upperBound))") {
            range.contains($0)
        }
    }
}

extension PolicyField {
    /// A nested section whose keys are `fields`, read into the part of `Root` at `path`.
    package static func section<Part>(_ key: String, _ path: WritableKeyPath<Root, Part>, _ fields: [PolicyField<Part>]) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            MappingReader.read(node, section: dotted, fields: fields, into: &root[keyPath: path], log: &log)
        }
    }

    /// A number obeying `rule`.
    package static func number(_ key: String, _ path: WritableKeyPath<Root, Double>, _ rule: NumberRule) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let value = YAMLValue.number(node) else {
                return log.fail(dotted, "must be a number, got \(YAMLValue.kind(of: node))", at: node)
            }
            guard rule.accepts(value) else {
                return log.fail(dotted, "\(rule.text) (got \(NumberText.format(value)))", at: node)
            }
            root[keyPath: path] = value
        }
    }

    /// A whole number of at least `minimum`.
    package static func integer(_ key: String, _ path: WritableKeyPath<Root, Int>, atLeast minimum: Int) -> Self {
        integer(key, path, in: minimum...Int.max)
    }

    /// A whole number in `range`.
    package static func integer(_ key: String, _ path: WritableKeyPath<Root, Int>, in range: ClosedRange<Int>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let value = YAMLValue.integer(node) else {
                return log.fail(dotted, "must be a whole number, got \(YAMLValue.kind(of: node))", at: node)
            }
            guard range.contains(value) else {
                let rule = range.upperBound == Int.max
                    ? "must be at least \(range.lowerBound)" : "must be between \(range.lowerBound) and \(range.upperBound)"
                return log.fail(dotted, "\(rule) (got \(value))", at: node)
            }
            root[keyPath: path] = value
        }
    }

    /// A non-empty list of numbers, each obeying `rule`, strictly increasing (bucket bounds).
    package static func increasingNumbers(_ key: String, _ path: WritableKeyPath<Root, [Double]>, _ rule: NumberRule) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let items = node.sequence else {
                return log.fail(dotted, "must be a list of numbers, got \(YAMLValue.kind(of: node))", at: node)
            }
            guard !items.isEmpty else { return log.fail(dotted, "must list at least one number", at: node) }
            var values: [Double] = []
            for (index, item) in items.enumerated() {
                let entry = "\(dotted)[\(index)]"
                guard let value = YAMLValue.number(item) else {
                    return log.fail(entry, "must be a number, got \(YAMLValue.kind(of: item))", at: item)
                }
                guard rule.accepts(value) else {
                    return log.fail(entry, "\(rule.text) (got \(NumberText.format(value)))", at: item)
                }
                if let previous = values.last, value <= previous {
                    return log.fail(
                        entry, "must be greater than the bound before it (\(NumberText.format(previous))); bounds increase",
                        at: item)
                }
                values.append(value)
            }
            root[keyPath: path] = values
        }
    }

    /// A day `YYYY-MM-DD` (quoted or not), stored as days since 1970-01-01.
    package static func day(_ key: String, _ path: WritableKeyPath<Root, Int>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let text = node.scalar?.string, YAMLValue.tagName(node) == .str || YAMLValue.tagName(node) == .timestamp,
                let days = DateText.days(text)
            else {
                return log.fail(dotted, "must be a date YYYY-MM-DD, got \(YAMLValue.kind(of: node))", at: node)
            }
            root[keyPath: path] = days
        }
    }

    /// A file path: non-empty text on one line (the file itself is read where it is used).
    package static func path(_ key: String, _ path: WritableKeyPath<Root, String?>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let value = YAMLValue.text(node) else {
                return log.fail(dotted, "must be a file path (text), got \(YAMLValue.kind(of: node))", at: node)
            }
            guard !value.isEmpty, !value.contains(where: \.isNewline), !value.contains("\0") else {
                return log.fail(dotted, "must be a non-empty file path on one line", at: node)
            }
            root[keyPath: path] = value
        }
    }

    /// `true` or `false`.
    package static func flag(_ key: String, _ path: WritableKeyPath<Root, Bool>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let value = YAMLValue.bool(node) else {
                return log.fail(dotted, "must be true or false, got \(YAMLValue.kind(of: node))", at: node)
            }
            root[keyPath: path] = value
        }
    }

    /// One of the values of a string enumeration (`pld`, `rdp`, …), named in the error when it is not.
    static func choice<Value: RawRepresentable & CaseIterable>(_ key: String, _ path: WritableKeyPath<Root, Value>) -> Self
    where Value.RawValue == String {
        PolicyField(key: key) { node, dotted, root, log in
            let names = Value.allCases.map(\.rawValue)
            guard let text = YAMLValue.text(node), let value = Value(rawValue: text) else {
                return log.fail(dotted, "must be one of \(names.joined(separator: ", "))", at: node)
            }
            root[keyPath: path] = value
        }
    }

    /// A non-empty list of distinct values of a string enumeration, each read as `choice` reads one.
    static func choices<Value: RawRepresentable & CaseIterable & Equatable>(_ key: String, _ path: WritableKeyPath<Root, [Value]>) -> Self
    where Value.RawValue == String {
        PolicyField(key: key) { node, dotted, root, log in
            guard let items = node.sequence, !items.isEmpty, let first = Value.allCases.first else {
                let names = Value.allCases.map(\.rawValue).joined(separator: ", ")
                return log.fail(dotted, "must be a list of one or more of \(names)", at: node)
            }
            var values: [Value] = []
            for (index, item) in items.enumerated() {
                let entry = "\(dotted)[\(index)]"
                var value = first
                let before = log.issues.count
                PolicyField<Value>.choice(entry, \.self).read(item, entry, &value, &log)
                guard log.issues.count == before else { return }
                guard !values.contains(value) else { return log.fail(entry, "repeats `\(value.rawValue)`; each may appear once", at: item) }
                values.append(value)
            }
            root[keyPath: path] = values
        }
    }

    /// A name: non-empty text of letters, digits, `.`, `_` and `-`.
    package static func name(_ key: String, _ path: WritableKeyPath<Root, String>) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let value = NameRule.identifier.read(node, dotted, &log) else { return }
            root[keyPath: path] = value
        }
    }

    /// A list of distinct names obeying `rule`; `allowEmpty` says whether `[]` is acceptable.
    package static func names(_ key: String, _ path: WritableKeyPath<Root, [String]>, rule: NameRule, allowEmpty: Bool) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let items = node.sequence else {
                return log.fail(dotted, "must be a list of names, got \(YAMLValue.kind(of: node))", at: node)
            }
            guard allowEmpty || !items.isEmpty else { return log.fail(dotted, "must list at least one name", at: node) }
            var values: [String] = []
            for (index, item) in items.enumerated() {
                guard let value = rule.read(item, "\(dotted)[\(index)]", &log) else { continue }
                guard !values.contains(value) else {
                    log.fail("\(dotted)[\(index)]", "repeats `\(value)`; each name may appear once", at: item)
                    continue
                }
                values.append(value)
            }
            if values.count == items.count { root[keyPath: path] = values }
        }
    }

    /// `field`, made for a plain value (its path `\.self`), read into an optional: the value when the
    /// key is given and valid; `placeholder` is only what `field` reads into.
    package static func optional<Value>(_ path: WritableKeyPath<Root, Value?>, placeholder: Value, _ field: PolicyField<Value>) -> Self {
        PolicyField(key: field.key) { node, dotted, root, log in
            var value = placeholder
            let before = log.issues.count
            field.read(node, dotted, &value, &log)
            if log.issues.count == before { root[keyPath: path] = value }
        }
    }

    /// A mapping from task names (`TaskName`) to sections of `fields`, each read into a value that starts
    /// at `empty`.
    package static func perTask<Value>(
        _ key: String, _ path: WritableKeyPath<Root, [TaskName: Value]>, empty: Value, fields: [PolicyField<Value>]
    ) -> Self {
        named(key, path, of: "task names") { name in
            TaskName(rawValue: name).map { .success($0) }
                ?? .failure(BrokenRule("is not a task; the tasks are \(TaskName.allCases.map(\.rawValue).joined(separator: ", "))"))
        } value: { node, entry, log in
            var value = empty
            MappingReader.read(node, section: entry, fields: fields, into: &value, log: &log)
            return value
        }
    }

    /// A mapping from names (from `allowed`, when given) to positive ε caps.
    package static func caps(_ key: String, _ path: WritableKeyPath<Root, [String: Double]>, allowed: [String]?) -> Self {
        named(key, path, of: "`name: epsilon` lines") { name in
            guard let allowed, !allowed.contains(name) else { return .success(name) }
            return .failure(BrokenRule("is not a role; roles are \(allowed.joined(separator: ", "))"))
        } value: { node, entry, log in
            var value = 0.0
            PolicyField<Double>.number(entry, \.self, .positive).read(node, entry, &value, &log)
            return value
        }
    }

    /// A mapping from identifiers to values, stored whole only when every entry is sound: each name
    /// becomes a key by `key` (or breaks the rule it returns), each value is read by `value` (which logs
    /// what is wrong with it).
    private static func named<Key: Hashable, Value>(
        _ key: String, _ path: WritableKeyPath<Root, [Key: Value]>, of entries: String,
        key makeKey: @escaping (String) -> Result<Key, BrokenRule>,
        value read: @escaping (_ node: Node, _ entry: String, _ log: inout IssueLog) -> Value
    ) -> Self {
        PolicyField(key: key) { node, dotted, root, log in
            guard let mapping = node.mapping else {
                return log.fail(dotted, "must be a section of \(entries), got \(YAMLValue.kind(of: node))", at: node)
            }
            var values: [Key: Value] = [:]
            var sound = true
            for (nameNode, valueNode) in mapping {
                guard let name = NameRule.identifier.read(nameNode, dotted, &log) else { sound = false; continue }
                let entry = "\(dotted).\(name)"
                log.note(entry, at: nameNode)
                switch makeKey(name) {
                case .failure(let broken):
                    log.fail(entry, broken.rule, at: nameNode)
                    sound = false
                case .success(let key):
                    let before = log.issues.count
                    let value = read(valueNode, entry, &log)
                    if log.issues.count == before { values[key] = value } else { sound = false }
                }
            }
            if sound { root[keyPath: path] = values }
        }
    }
}

/// The rule a policy value breaks, as its message words it.
struct BrokenRule: Error {
    let rule: String
    init(_ rule: String) { self.rule = rule }
}

/// A rule for names in a policy: identifiers (dataset, roles, principals, field names) or labels
/// (categories, which are shop vocabulary).
package struct NameRule: Sendable {
    package let text: String
    package let accepts: @Sendable (String) -> Bool

    private static let identifierCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

    /// Letters, digits, `.`, `_` and `-`.
    package static let identifier = NameRule(text: "must be a non-empty name of letters, digits, `.`, `_` and `-`") {
        !$0.isEmpty && $0.allSatisfy(identifierCharacters.contains)
    }

    /// Any one-line text without surrounding spaces.
    package static let label = NameRule(text: "must be non-empty text on one line without leading or trailing spaces") {
        !$0.isEmpty && $0 == $0.trimmingCharacters(in: .whitespaces)
            && !$0.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
    }

    /// The name in `node`, or nil after logging why it is not one.
    package func read(_ node: Node, _ dotted: String, _ log: inout IssueLog) -> String? {
        guard let value = YAMLValue.text(node) else {
            log.fail(dotted, "must be text, got \(YAMLValue.kind(of: node))", at: node)
            return nil
        }
        guard accepts(value) else {
            log.fail(dotted, text, at: node)
            return nil
        }
        return value
    }
}
