import Foundation
import Yams

/// Reading a short YAML configuration file — a policy, an import mapping — the one way: at most
/// `maxBytes` read (one byte past the limit, so a huge file or a device costs nothing), UTF-8 checked,
/// composed by libyaml with its nesting bound, and any failure an issue naming the line, never the
/// file's content.
package enum YAMLFile {
    /// What reading a file gave: its text, or why it is not a YAML file Veil reads (with the bytes read,
    /// when they were within the limit).
    package enum Contents {
        case text(String, bytes: [UInt8])
        case unreadable(PolicyIssue, bytes: [UInt8]?)
    }

    /// The contents of the regular file at `path`; nil when there is no such file or it cannot be read.
    /// `what` names the kind of file in messages ("a policy").
    package static func read(path: String, maxBytes: Int, what: String) -> Contents? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let handle = FileHandle(forReadingAtPath: path)
        else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: maxBytes + 1) ?? Data() else { return nil }
        guard data.count <= maxBytes else {
            return .unreadable(PolicyIssue(field: nil, rule: "is larger than \(maxBytes) bytes; \(what) is a short YAML file", line: nil), bytes: nil)
        }
        let bytes = [UInt8](data)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .unreadable(PolicyIssue(field: nil, rule: "is not UTF-8 text", line: nil), bytes: bytes)
        }
        return .text(text, bytes: bytes)
    }

    /// The document `text` holds (nil for an empty one), or the syntax issue with its line.
    package static func compose(_ text: String) -> Result<Node?, PolicyIssue> {
        do {
            return .success(try Yams.compose(yaml: text))
        } catch {
            return .failure(YAMLSyntax.issue(for: error))
        }
    }

    /// Whether `node` is an empty document or a YAML null.
    package static func isEmpty(_ node: Node) -> Bool {
        if case .scalar = node { return YAMLValue.tagName(node) == .null }
        return false
    }
}
