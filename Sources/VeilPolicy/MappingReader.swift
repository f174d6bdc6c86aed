import Yams

/// Reads a YAML mapping key by key through a table of fields, reporting unknown keys.
package enum MappingReader {
    /// Reads `node` (which must be a mapping) into `root`. `section` is the dotted name of the mapping
    /// (nil at the top level); each key's dotted name is `section.key`.
    package static func read<Root>(
        _ node: Node, section: String?, fields: [PolicyField<Root>], into root: inout Root, log: inout IssueLog
    ) {
        guard let mapping = node.mapping else {
            return log.fail(section, "must be a section of `key: value` lines, got \(YAMLValue.kind(of: node))", at: node)
        }
        for (keyNode, value) in mapping {
            let prefix = section.map { "\($0)." } ?? ""
            guard let key = YAMLValue.text(keyNode) else {
                log.fail(section, "has a key that is not text (\(YAMLValue.kind(of: keyNode)))", at: keyNode)
                continue
            }
            let dotted = prefix + key
            guard let field = fields.first(where: { $0.key == key }) else {
                let known = fields.map(\.key).sorted().joined(separator: ", ")
                log.fail(dotted, "is not a known key; the keys here are \(known)", at: keyNode)
                continue
            }
            log.note(dotted, at: keyNode)
            field.read(value, dotted, &root, &log)
        }
    }
}
