import Yams

/// Typed reading of YAML scalars by their resolved tag, so `"10"` (quoted) is text and `10` a number.
package enum YAMLValue {
    /// The resolved tag of a node (`Tag.name` itself is not public in Yams).
    package static func tagName(_ node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.description) }

    /// A number: a plain integer or float scalar.
    package static func number(_ node: Node) -> Double? {
        let tag = tagName(node)
        guard let scalar = node.scalar, tag == .int || tag == .float else { return nil }
        return tag == .int ? Int.construct(from: scalar).map(Double.init) : Double.construct(from: scalar)
    }

    /// A whole number: a plain integer scalar.
    package static func integer(_ node: Node) -> Int? {
        guard let scalar = node.scalar, tagName(node) == .int else { return nil }
        return Int.construct(from: scalar)
    }

    /// `true` / `false` (and YAML 1.1's yes/no/on/off).
    package static func bool(_ node: Node) -> Bool? {
        guard let scalar = node.scalar, tagName(node) == .bool else { return nil }
        return Bool.construct(from: scalar)
    }

    /// Text: a scalar that resolves to a string (quote it if it looks like a number or boolean).
    package static func text(_ node: Node) -> String? {
        guard let scalar = node.scalar, tagName(node) == .str else { return nil }
        return scalar.string
    }

    /// What `node` is, for "got …" in messages. Describes the kind only, never the content.
    package static func kind(of node: Node) -> String {
        switch node {
        case .mapping: return "a section (key: value lines)"
        case .sequence: return "a list"
        case .alias: return "an alias (anchors and aliases are not supported)"
        case .scalar:
            let tag = tagName(node)
            switch tag {
            case .int: return "a whole number"
            case .float: return "a number"
            case .bool: return "a boolean"
            case .null: return "nothing (an empty value)"
            case .str: return "text"
            default: return "a value of type \(tag.rawValue)"
            }
        }
    }
}

/// Numbers in messages: whole values without a trailing `.0`.
package enum NumberText {
    package static func format(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
