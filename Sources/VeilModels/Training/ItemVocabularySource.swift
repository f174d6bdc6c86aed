import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilLedger
import VeilPolicy
import VeilPrivacy
import VeilQueries

/// Where a model's item vocabulary came from, as its card shows it.
public struct VocabularyProvenance: Sendable, Codable, Hashable {
    public enum Source: String, Sendable, Codable {
        /// The public catalogue the policy names (`catalog.items_file`): costs nothing.
        case catalog
        /// DP partition selection over the stored items (a `count_users` query grouped by item), paid
        /// inside the training run's one composed spend (before, as its own spend).
        case dpPartitionSelection = "dp_partition_selection"
    }

    public var source: Source
    /// Items in the vocabulary (not counting "other").
    public var items: Int
    /// Lowercase hex BLAKE2b-256 of the catalogue file (catalogue only).
    public var catalogHash: String?
    /// ε and δ of the selection alone, the ledger spend that paid for it (the run's own spend; in runs
    /// from before the composed spend, a spend of its own) and its threshold on the noisy user count
    /// (selection only).
    public var epsilon: Double?
    public var delta: Double?
    public var spendId: Int64?
    public var threshold: Int64?
}

/// Builds the item vocabulary of a sequence model: the policy's public catalogue when it names one,
/// otherwise DP partition selection over the items users interacted with in the observation window.
///
/// Contract:
/// - A catalogue is read and validated whole (`ItemVocabulary(catalogCSV:categories:)`: errors name
///   `catalog.items_file` and the line, never a value) before anything is spent.
/// - Selection reuses the query engine's partition selection (`QuerySpec` `count_users` grouped by
///   `item`), so it is bounded, noised and thresholded exactly as that query is. It is paid as one part
///   of the training run's spend (`selectionMechanism` is what the run composes), reserved by the
///   caller before any event is read and never refunded, and audited by the run's `budget.spend` and
///   `model.train` records (no `query.run` record of its own). Released items are
///   ordered by noisy user count (highest first, ties by ID) and cut at `catalog.max_selected_items`
///   — post-processing of the release. Its noisy counts are not kept.
public enum ItemVocabularySource {
    /// The catalogue's path: `catalog.items_file`, relative to the policy file's directory; nil when
    /// the policy names none.
    public static func catalogPath(policy: LoadedPolicy) -> String? {
        guard let file = policy.policy.catalog.itemsFile else { return nil }
        guard !file.hasPrefix("/") else { return file }
        let directory = (policy.path as NSString).deletingLastPathComponent
        return directory.isEmpty ? file : (directory as NSString).appendingPathComponent(file)
    }

    /// The policy's catalogue, or nil when it names none. Throws `invalidInput` (field
    /// `catalog.items_file`) when the file cannot be read or breaks a rule.
    public static func catalog(policy: LoadedPolicy) throws -> (ItemVocabulary, VocabularyProvenance)? {
        guard let path = catalogPath(policy: policy) else { return nil }
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
            size <= ItemVocabulary.maxCatalogBytes, let data = FileManager.default.contents(atPath: path)
        else {
            throw VeilError(
                .invalidInput, field: ItemVocabulary.catalogField,
                "cannot read the catalogue (at most \(ItemVocabulary.maxCatalogBytes >> 20) MiB); check the path, relative to the policy file")
        }
        let vocabulary = try ItemVocabulary(catalogCSV: data, categories: policy.policy.categories)
        return (
            vocabulary,
            VocabularyProvenance(
                source: .catalog, items: vocabulary.count, catalogHash: Hex.encode(BLAKE2b.hash256(Array(data))))
        )
    }

    /// The selection query: distinct users per item in `[from, to)`, Gaussian noise at ε `epsilon`.
    static func selectionQuery(epsilon: Double, from: Int64?, to: Int64) -> QuerySpec {
        QuerySpec(
            metric: "count_users", groupBy: "item", from: from.map(RFC3339.format(millis:)), to: RFC3339.format(millis: to),
            epsilon: epsilon, mechanism: "gaussian")
    }

    /// What the selection at ε `epsilon` over `[from, to)` releases, as the ledger composes it.
    public static func selectionMechanism(queries: QueryService, epsilon: Double, from: Int64?, to: Int64) throws(VeilError) -> PrivacyMechanism {
        try queries.mechanism(selectionQuery(epsilon: epsilon, from: from, to: to))
    }

    /// The items whose noisy distinct-user count in `[from, to)` passes partition selection, at ε
    /// `epsilon` (Gaussian noise at the policy's δ), paid by the run's spend `receipt` (whose mechanism
    /// holds `selectionMechanism` for the same arguments).
    public static func select(
        queries: QueryService, policy: Policy, epsilon: Double, from: Int64?, to: Int64, receipt: BudgetReceipt,
        using generator: inout some RandomNumberGenerator
    ) async throws -> (ItemVocabulary, VocabularyProvenance) {
        let answer = try await queries.runPrepaid(selectionQuery(epsilon: epsilon, from: from, to: to), receipt: receipt, using: &generator)
        let ranked = answer.groups.filter { $0.source == "selected" }
            .map { (item: $0.key, users: $0.estimate?.value ?? 0) }
            .sorted { ($0.users, $1.item) > ($1.users, $0.item) }
            .prefix(policy.catalog.maxSelectedItems)
        guard !ranked.isEmpty else {
            throw VeilError(
                .invalidInput, field: "data",
                "DP partition selection released no item (too few users per item for ε \(epsilon)); name a public catalogue in the policy (catalog.items_file) or ask for more ε")
        }
        let vocabulary = try ItemVocabulary(items: ranked.map(\.item))
        return (
            vocabulary,
            VocabularyProvenance(
                source: .dpPartitionSelection, items: vocabulary.count, epsilon: answer.epsilon, delta: answer.delta,
                spendId: receipt.spendID, threshold: answer.partitionSelection?.threshold)
        )
    }
}
