import VeilIngest

/// Prints a `ProblemSummary` — problems grouped by rule — the one way `veil ingest` and `veil push` show
/// it: each rule once with its count and first places, the unknown type values, and the hint.
enum ProblemText {
    /// The summary's lines; `unit` names a place ("line" in a file, "event" in a batch).
    static func lines(_ summary: ProblemSummary, unit: String) -> [String] {
        var lines: [String] = []
        for group in summary.groups {
            let places = group.first.map(String.init).joined(separator: ", ")
            let plural = group.count == 1 ? unit : unit + "s"
            lines.append("  \(group.field) \(group.message) — \(group.count) \(plural) (first: \(places))")
            if group.field == "type", !summary.unknownTypes.isEmpty || summary.unknownTypesNotShown > 0,
                group.message.hasPrefix("must be one of")
            {
                var values = summary.unknownTypes.map { "\($0.value) (\($0.count))" }
                let hidden = summary.unknownTypesNotShown
                if hidden > 0 { values.append("\(hidden) \(hidden == 1 ? unit : unit + "s") with values not shown") }
                lines.append("    unknown values: " + values.joined(separator: ", "))
            }
            if let hint = group.hint { lines.append("    hint: \(hint)") }
        }
        if summary.ungrouped > 0 { lines.append("  … and \(summary.ungrouped) problems of other rules") }
        return lines
    }

    static func print(_ summary: ProblemSummary, unit: String) {
        for line in lines(summary, unit: unit) { Swift.print(line) }
    }
}
