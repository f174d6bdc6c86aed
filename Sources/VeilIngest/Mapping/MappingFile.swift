import VeilCore
import VeilPolicy
import Yams

/// Reads import mapping files (`veil ingest FILE --mapping shop.yaml`; `docs/ingest.md` documents every
/// key), validated as a policy is: every key known, every value of the right kind, every expression
/// parsed, and each problem named by its dotted key, rule and line. The file is the operator's own
/// text, so messages may quote it; they never quote a data file.
///
/// ```yaml
/// format: csv                 # csv or ndjson (default: by extension)
/// delimiter: whitespace       # comma, tab, semicolon, pipe, double_colon (::) or whitespace (default: from the first line)
/// quote: double               # double, single or none
/// columns: [customer, date, quantity, amount]   # a file without a header row
/// fields:                     # event field: expression over columns
///   user_id: customer
///   price: amount / quantity
/// properties:                 # free-form property: expression (kept only where the policy lists it)
///   basket_lines: lines
/// constants:                  # event field: value of records that have none
///   type: purchase
/// types:                      # value of the type column: event type or skip
///   home: skip
/// timestamp:
///   format: "%Y%m%d"          # rfc3339, epoch_seconds, epoch_millis, epoch_micros or a pattern
///   time_zone: Europe/Berlin  # for timestamps without an offset
/// ```
public enum MappingFile {
    /// The largest mapping file read (256 KiB: a type map of thousands of values still fits).
    public static let maxFileBytes = 256 << 10

    /// The mapping in the file at `path`, or `MappingFileRejected` listing every problem. A file that
    /// cannot be read is `VeilError(.notFound)`.
    public static func load(path: String) throws -> ImportMapping {
        switch YAMLFile.read(path: path, maxBytes: maxFileBytes, what: "a mapping") {
        case nil:
            throw VeilError(.notFound, field: path, "cannot read the mapping file; check the path (--mapping)")
        case .unreadable(let issue, _)?:
            throw MappingFileRejected(path: path, issues: [issue])
        case .text(let text, _)?:
            switch parse(yaml: text, name: path) {
            case .success(let mapping): return mapping
            case .failure(let rejected): throw MappingFileRejected(path: path, issues: rejected.issues)
            }
        }
    }

    /// Parses mapping YAML; `name` is how origins name the file (`shop.yaml line 7`).
    public static func parse(yaml text: String, name: String) -> Result<ImportMapping, MappingFileRejected> {
        let root: Node?
        switch YAMLFile.compose(text) {
        case .success(let node): root = node
        case .failure(let issue): return .failure(MappingFileRejected(path: name, issues: [issue]))
        }
        var draft = Draft(name: name)
        var log = IssueLog()
        if let root, !YAMLFile.isEmpty(root) {
            MappingReader.read(root, section: nil, fields: schema, into: &draft, log: &log)
        }
        if log.issues.isEmpty {
            do throws(MappingRuleError) {
                try draft.mapping.checkConsistency()
            } catch {
                log.fail(nil, error.rule, line: nil)
            }
        }
        return log.issues.isEmpty ? .success(draft.mapping) : .failure(MappingFileRejected(path: name, issues: log.issues))
    }

    /// The mapping being read and the file's name for origins.
    struct Draft {
        let name: String
        var mapping = ImportMapping()

        func origin(_ node: Node) -> String {
            node.mark.map { "\(name) line \($0.line)" } ?? name
        }
    }

    static var schema: [PolicyField<Draft>] {
        [
            choice("format", ImportOptions.Format.allCases.map(\.rawValue)) { draft, value in
                draft.mapping.format = ImportOptions.Format(rawValue: value)
            },
            choice("delimiter", CSVDelimiter.allCases.map(\.rawValue)) { draft, value in
                draft.mapping.delimiter = CSVDelimiter(rawValue: value)
            },
            choice("quote", CSVQuote.allCases.map(\.rawValue)) { draft, value in
                draft.mapping.quote = CSVQuote(rawValue: value) ?? .double
            },
            PolicyField(key: "columns") { node, dotted, draft, log in
                guard let items = node.sequence else {
                    return log.fail(dotted, "must be a list of column names, got \(YAMLValue.kind(of: node))", at: node)
                }
                var names: [String] = []
                for (index, item) in items.enumerated() {
                    guard let name = scalarText(item) else {
                        return log.fail("\(dotted)[\(index)]", "must be a column name, got \(YAMLValue.kind(of: item))", at: item)
                    }
                    names.append(name)
                }
                apply(dotted, node, &log) { try draft.mapping.setColumns(names, origin: draft.origin(node)) }
            },
            entries("fields") { draft, key, value, entryNode, dotted, log in
                guard let expression = YAMLValue.text(value) else {
                    return log.fail(
                        dotted, "must be an expression over columns (text), got \(YAMLValue.kind(of: value)); a fixed value goes under constants:",
                        at: value)
                }
                apply(dotted, value, &log) { try draft.mapping.map(key, to: expression, origin: draft.origin(entryNode)) }
            },
            entries("properties") { draft, key, value, entryNode, dotted, log in
                guard let expression = YAMLValue.text(value) else {
                    return log.fail(dotted, "must be an expression over columns (text), got \(YAMLValue.kind(of: value))", at: value)
                }
                apply(dotted, value, &log) { try draft.mapping.mapProperty(key, to: expression, origin: draft.origin(entryNode)) }
            },
            entries("constants") { draft, key, value, entryNode, dotted, log in
                guard let text = scalarText(value) else {
                    return log.fail(dotted, "must be a value (text or a number), got \(YAMLValue.kind(of: value))", at: value)
                }
                apply(dotted, value, &log) { try draft.mapping.setConstant(key, text, origin: draft.origin(entryNode)) }
            },
            entries("types") { draft, key, value, entryNode, dotted, log in
                guard let target = YAMLValue.text(value) else {
                    return log.fail(dotted, "must be skip or an event type, got \(YAMLValue.kind(of: value))", at: value)
                }
                apply(dotted, value, &log) { try draft.mapping.mapType(key, to: target, origin: draft.origin(entryNode)) }
            },
            PolicyField(key: "timestamp") { node, dotted, draft, log in
                var settings = TimestampSettings()
                MappingReader.read(node, section: dotted, fields: timestampSchema, into: &settings, log: &log)
                guard log.isSound("\(dotted).format"), log.isSound("\(dotted).time_zone") else { return }
                apply(dotted, node, &log) {
                    try draft.mapping.setTimestamp(layout: settings.format, zone: settings.timeZone, origin: draft.origin(node))
                }
            },
        ]
    }

    struct TimestampSettings {
        var format: String?
        var timeZone: String?
    }

    static var timestampSchema: [PolicyField<TimestampSettings>] {
        [
            PolicyField(key: "format") { node, dotted, settings, log in
                guard let text = YAMLValue.text(node) else {
                    return log.fail(dotted, "must be a format (text), got \(YAMLValue.kind(of: node))", at: node)
                }
                do throws(MappingRuleError) {
                    _ = try TimestampReading.layout(named: text)
                    settings.format = text
                } catch {
                    log.fail(dotted, error.rule, at: node)
                }
            },
            PolicyField(key: "time_zone") { node, dotted, settings, log in
                guard let text = YAMLValue.text(node) else {
                    return log.fail(dotted, "must be a time zone (text), got \(YAMLValue.kind(of: node))", at: node)
                }
                do throws(MappingRuleError) {
                    _ = try ImportTimeZone(text)
                    settings.timeZone = text
                } catch {
                    log.fail(dotted, error.rule, at: node)
                }
            },
        ]
    }

    /// A key whose value is one of `choices`.
    private static func choice(_ key: String, _ choices: [String], set: @escaping (inout Draft, String) -> Void) -> PolicyField<Draft> {
        PolicyField(key: key) { node, dotted, draft, log in
            guard let value = YAMLValue.text(node) else {
                return log.fail(dotted, "must be one of \(choices.joined(separator: ", ")), got \(YAMLValue.kind(of: node))", at: node)
            }
            guard choices.contains(value) else {
                return log.fail(dotted, "must be one of \(choices.joined(separator: ", ")), not \(value)", at: node)
            }
            set(&draft, value)
        }
    }

    /// A section of `name: value` entries, each handed to `read` with its dotted key.
    private static func entries(
        _ key: String, read: @escaping (inout Draft, String, Node, Node, String, inout IssueLog) -> Void
    ) -> PolicyField<Draft> {
        PolicyField(key: key) { node, dotted, draft, log in
            guard let mapping = node.mapping else {
                return log.fail(dotted, "must be a section of `name: value` lines, got \(YAMLValue.kind(of: node))", at: node)
            }
            for (nameNode, value) in mapping {
                guard let name = nameNode.scalar?.string, !name.isEmpty else {
                    log.fail(dotted, "has a key that is not text (\(YAMLValue.kind(of: nameNode)))", at: nameNode)
                    continue
                }
                let entry = "\(dotted).\(name)"
                log.note(entry, at: nameNode)
                read(&draft, name, value, nameNode, entry, &log)
            }
        }
    }

    /// Runs a setter, logging its rule at `node` under `dotted`.
    private static func apply(_ dotted: String, _ node: Node, _ log: inout IssueLog, _ set: () throws -> Void) {
        do {
            try set()
        } catch let error as MappingRuleError {
            log.fail(dotted, error.rule, at: node)
        } catch {
            log.fail(dotted, "is not valid", at: node)
        }
    }

    /// The text of a scalar of any tag but null and boolean (`1: view` maps the value "1").
    private static func scalarText(_ node: Node) -> String? {
        guard let scalar = node.scalar else { return nil }
        let tag = YAMLValue.tagName(node)
        guard tag != .null, tag != .bool else { return nil }
        return scalar.string
    }
}

/// A mapping file with problems: every one, each naming the dotted key, the rule and the line.
public struct MappingFileRejected: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let issues: [PolicyIssue]

    public init(path: String, issues: [PolicyIssue]) {
        self.path = path
        self.issues = issues
    }

    public var description: String {
        issues.map { "\(path): \($0.error)" }.joined(separator: "\n")
    }
}
