import ArgumentParser
import Foundation

/// The nearest command name for a mistyped one (`veil stat` → `stats`, `veil models aprove` →
/// `approve`). swift-argument-parser already suggests the nearest option for a mistyped `--flag`
/// ("Did you mean '--epsilon'?") but answers a mistyped command with "Unexpected argument".
enum CommandSuggestion {
    /// The most edits a suggestion may be away from what was typed.
    static let maximumDistance = 2

    /// The word of `arguments` that names no command where a command is expected, with the nearest
    /// command name at that level; nil when every command word is known or none is near.
    static func suggestion(for arguments: [String], root: any ParsableCommand.Type) -> (typed: String, nearest: String)? {
        var level = root
        for word in arguments {
            guard !word.hasPrefix("-") else { return nil }
            let children = level.configuration.subcommands
            guard !children.isEmpty else { return nil }
            if let child = children.first(where: { name(of: $0) == word }) {
                level = child
                continue
            }
            let nearest = children.map { name(of: $0) }.map { ($0, distance($0, word)) }.filter { $0.1 <= maximumDistance }
                .min { $0.1 < $1.1 }
            return nearest.map { (word, $0.0) }
        }
        return nil
    }

    /// The name a command is invoked by: its configured name, else its type's name in lowercase.
    static func name(of command: any ParsableCommand.Type) -> String {
        command.configuration.commandName ?? String(describing: command).lowercased()
    }

    /// Levenshtein distance between two words.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
