import VeilCore

/// The items a model can name: item IDs mapped to indices `0 ..< count`, with every other item mapped
/// to one "other" index, `count`. IDs are their bytes (`ExactText`), as the stores compare them: "é" as
/// one scalar and as "e" with a combining accent are two items.
///
/// Item IDs are not public the way categories are (a rare item can single out its buyer), so the list
/// must come from somewhere public — a catalogue the shop publishes anyway (`init(catalogCSV:categories:)`)
/// — or be selected with DP partition selection and paid for. This type only holds the list; it never
/// grows from the events it encodes.
public struct ItemVocabulary: Sendable, Hashable, Codable {
    /// The items, in index order.
    public let items: [String]
    /// Each item's category from the catalogue, when it gave one.
    public let categories: [String?]
    private let indices: [ExactText: Int]

    /// Throws `VeilError.invalidInput` (field `item_id`, naming the position, never the ID) when an ID
    /// is empty or listed twice, or `categories` does not have one entry per item.
    public init(items: [String], categories: [String?]? = nil) throws {
        let categories = categories ?? items.map { _ in nil }
        guard categories.count == items.count else {
            throw VeilError(.invalidInput, field: "category", "needs one entry per item (\(items.count))")
        }
        var indices: [ExactText: Int] = [:]
        indices.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard !item.isEmpty else {
                throw VeilError(.invalidInput, field: "item_id", "item \(index + 1) has an empty ID")
            }
            guard indices.updateValue(index, forKey: ExactText(item)) == nil else {
                throw VeilError(
                    .invalidInput, field: "item_id",
                    "item \(index + 1) repeats an earlier item's ID; each item may be listed once")
            }
        }
        self.items = items
        self.categories = categories
        self.indices = indices
    }

    /// Items in the vocabulary (not counting "other").
    public var count: Int { items.count }
    /// The index every item outside the vocabulary maps to.
    public var otherIndex: Int { items.count }

    /// `item`'s index, or `otherIndex` when it is not in the vocabulary.
    public func index(of item: String) -> Int { indices[ExactText(item)] ?? otherIndex }

    /// The item at `index`, or nil for "other".
    public func item(at index: Int) -> String? { index < items.count ? items[index] : nil }

    public static func == (lhs: ItemVocabulary, rhs: ItemVocabulary) -> Bool {
        lhs.items == rhs.items && lhs.categories == rhs.categories
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(items)
        hasher.combine(categories)
    }

    enum CodingKeys: String, CodingKey { case items, categories }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            items: try container.decode([String].self, forKey: .items),
            categories: try container.decode([String?].self, forKey: .categories))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(categories, forKey: .categories)
    }
}
