/// Action names with a meaning the verifier relies on. `docs/audit.md` lists every action and its details.
public enum AuditAction {
    /// A release paid from the privacy budget. Details: `dataset`, `mechanism` (object), `epsilon`,
    /// `delta`, `cumulative_epsilon` (the dataset's composed ε after this spend), and who/why fields.
    public static let budgetSpend = "budget.spend"
    /// A request refused because it would pass a cap; nothing was spent.
    public static let budgetRefuse = "budget.refuse"

    /// True for names of the form `word(.word)*`, words of lowercase letters, digits and `_`.
    public static func isWellFormed(_ name: String) -> Bool {
        let words = name.split(separator: ".", omittingEmptySubsequences: false)
        return !words.isEmpty
            && words.allSatisfy { word in
                guard let first = word.first, ("a"..."z").contains(first) else { return false }
                return word.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            }
    }
}
