/// What a shopper remembers across sessions — recently viewed items, bought main items, bought
/// consumables — and the one rule that picks the item of each view from it (docs/synthetic-data.md,
/// "Which item"). `nextViewDistribution` is the exact distribution of that rule for a session's first view;
/// the two must change together.
struct ShopperMemory {
    /// Distinct items viewed and not bought since, oldest first, at most `ShopperModel.recentViewMemory`.
    private(set) var recentViews: [Int] = []
    /// Bought main items, oldest first, at most `ShopperModel.mainMemory`.
    private(set) var mains: [Int] = []
    /// Bought consumables, oldest first, at most `ShopperModel.consumableMemory`.
    private(set) var consumables: [Int] = []

    mutating func removeAll() {
        recentViews.removeAll(keepingCapacity: true)
        mains.removeAll(keepingCapacity: true)
        consumables.removeAll(keepingCapacity: true)
    }

    /// Becomes a copy of `other`, reusing this memory's storage.
    mutating func copy(_ other: ShopperMemory) {
        removeAll()
        recentViews.append(contentsOf: other.recentViews)
        mains.append(contentsOf: other.mains)
        consumables.append(contentsOf: other.consumables)
    }

    mutating func viewed(_ item: Int, rule: ItemChoiceRule) {
        Self.remember(item, in: &recentViews, limit: rule.recentViewMemory)
    }

    mutating func bought(_ item: Int, role: ItemRole, rule: ItemChoiceRule) {
        if let position = recentViews.firstIndex(of: item) { recentViews.remove(at: position) }
        switch role {
        case .main: Self.remember(item, in: &mains, limit: rule.mainMemory)
        case .consumable: Self.remember(item, in: &consumables, limit: rule.consumableMemory)
        case .accessory: break
        }
    }

    /// Moves `item` to the end of `list` (adding it if new), dropping the oldest beyond `limit`.
    @inline(__always)
    private static func remember(_ item: Int, in list: inout [Int], limit: Int) {
        guard limit > 0 else { return }
        var from = list.firstIndex(of: item) ?? -1
        if from < 0 {
            guard list.count >= limit else { return list.append(item) }
            from = 0
        }
        // Shift the entries after `from` down by one and put `item` last.
        for index in from..<(list.count - 1) { list[index] = list[index + 1] }
        list[list.count - 1] = item
    }

    /// How many items of `list` are in `category`, not counting `excluded`.
    @inline(__always)
    static func count(_ list: [Int], in category: Int, excluding excluded: Int = -1) -> Int {
        var count = 0
        for item in list where ItemCatalog.category(of: item) == category && item != excluded { count += 1 }
        return count
    }

    /// The `n`-th item (0-based, in list order) of `list` in `category`, not counting `excluded`.
    @inline(__always)
    static func item(_ n: Int, of list: [Int], in category: Int, excluding excluded: Int = -1) -> Int {
        var remaining = n
        for item in list where ItemCatalog.category(of: item) == category && item != excluded {
            if remaining == 0 { return item }
            remaining -= 1
        }
        preconditionFailure("fewer than \(n + 1) items in the category")
    }
}

/// The model's parameters of item choice and memory (`ShopperModel`), copied out of it so that the
/// per-view code reads plain numbers.
struct ItemChoiceRule: Sendable {
    var walk: Double
    var revisit: Double
    var accessory: Double
    var repeatPurchase: Double
    var recentViewMemory: Int
    var mainMemory: Int
    var consumableMemory: Int

    init(_ model: ShopperModel) {
        walk = model.walkProbability
        revisit = model.revisitProbability
        accessory = model.accessoryProbability
        repeatPurchase = model.repeatProbability
        recentViewMemory = model.recentViewMemory
        mainMemory = model.mainMemory
        consumableMemory = model.consumableMemory
    }
}

extension SyntheticShoppers {
    /// The item of a view in `category`. `previous` is the session's previous view (−1 for its first).
    ///
    /// 1. Walk: if `previous` is in `category`, with probability `walkProbability` a related item (another of
    ///    its line, by popularity).
    /// 2. Revisit: with `revisitProbability`, if the memory holds recent views in `category` (other than
    ///    `previous`), one of them uniformly.
    /// 3. Accessory: with `accessoryProbability`, if it holds bought main items in `category`, one of them
    ///    uniformly, then an accessory of its line by popularity.
    /// 4. Repeat: with `repeatProbability`, if it holds bought consumables in `category`, one uniformly.
    /// 5. Otherwise an item of `category` by popularity.
    /// A step whose memory list is empty draws nothing and passes to the next.
    @inline(__always)
    func chooseItem(
        category: Int, previous: Int, memory: ShopperMemory, random: inout ShopperRandom
    ) -> Int {
        if previous >= 0, ItemCatalog.category(of: previous) == category, random.chance(rule.walk) {
            return catalog.related(to: previous, &random)
        }
        let recent = ShopperMemory.count(memory.recentViews, in: category, excluding: previous)
        if recent > 0, random.chance(rule.revisit) {
            return ShopperMemory.item(random.below(recent), of: memory.recentViews, in: category, excluding: previous)
        }
        let mains = ShopperMemory.count(memory.mains, in: category)
        if mains > 0, random.chance(rule.accessory) {
            return catalog.accessory(of: ShopperMemory.item(random.below(mains), of: memory.mains, in: category), &random)
        }
        let consumables = ShopperMemory.count(memory.consumables, in: category)
        if consumables > 0, random.chance(rule.repeatPurchase) {
            return ShopperMemory.item(random.below(consumables), of: memory.consumables, in: category)
        }
        return catalog.popular(in: category, &random)
    }

    /// The exact distribution of a session's first viewed item, given the memory at the session's start and
    /// the category affinities a: `P(i) = a_k · Q_k(i)` for i in category k, where `Q_k` is the rule of
    /// `chooseItem` without a previous view (the first view's category is the session's focus with
    /// probability `sessionFocus`, else drawn from a; both are distributed as a). Returns the `top`
    /// most probable items, most probable first (ties: lower item index first).
    ///
    /// Exactness of the top list: an item outside every memory list has `P = a_k · c_k · z_i` with `c_k` the
    /// same for its whole category, so the `top` most popular items of each category, with the memory's
    /// items, contain the `top` most probable items.
    func nextViewDistribution(memory: ShopperMemory, affinity: [Double], top: Int) -> [RankedItem] {
        var candidates = memory.recentViews + memory.consumables
        for main in memory.mains {
            let first = catalog.line[main] * ItemCatalog.itemsPerLine
            for position in first..<(first + ItemCatalog.itemsPerLine)
            where catalog.role[catalog.lineItems[position]] == .accessory {
                candidates.append(catalog.lineItems[position])
            }
        }
        let perCategory = min(top, ItemCatalog.itemsPerCategory)
        for category in affinity.indices {
            let first = category * ItemCatalog.itemsPerCategory
            candidates += catalog.byPopularity[first..<(first + perCategory)]
        }
        candidates.sort()
        // The `top` most probable so far, most probable first (ties: lower index, which comes first).
        var ranked: [RankedItem] = []
        ranked.reserveCapacity(top + 1)
        var previous = -1
        for item in candidates where item != previous {
            previous = item
            let entry = RankedItem(item: item, probability: nextViewProbability(of: item, memory: memory, affinity: affinity))
            if ranked.count == top, !(entry.probability > ranked[top - 1].probability) { continue }
            var position = ranked.count
            while position > 0, entry.probability > ranked[position - 1].probability { position -= 1 }
            ranked.insert(entry, at: position)
            if ranked.count > top { ranked.removeLast() }
        }
        return ranked
    }

    /// `a_k · Q_k(item)`: the probability that a session's first view is `item` (see `nextViewDistribution`).
    private func nextViewProbability(of item: Int, memory: ShopperMemory, affinity: [Double]) -> Double {
        let category = ItemCatalog.category(of: item)
        var probability = 0.0
        var remaining = 1.0  // the probability that the steps so far passed
        let recent = ShopperMemory.count(memory.recentViews, in: category)
        if recent > 0 {
            if memory.recentViews.contains(item) { probability += rule.revisit / Double(recent) }
            remaining *= 1 - rule.revisit
        }
        let mains = ShopperMemory.count(memory.mains, in: category)
        if mains > 0 {
            if catalog.role[item] == .accessory {
                let line = catalog.line[item]
                let owners = memory.mains.reduce(0) { $0 + (catalog.line[$1] == line ? 1 : 0) }
                let share = catalog.popularity[item] / catalog.accessoryPopularity(ofLine: line)
                probability += remaining * rule.accessory * Double(owners) / Double(mains) * share
            }
            remaining *= 1 - rule.accessory
        }
        let consumables = ShopperMemory.count(memory.consumables, in: category)
        if consumables > 0 {
            if memory.consumables.contains(item) { probability += remaining * rule.repeatPurchase / Double(consumables) }
            remaining *= 1 - rule.repeatPurchase
        }
        probability += remaining * catalog.popularity[item]
        return affinity[category] * probability
    }
}

/// An item with its probability of being the next one viewed.
public struct RankedItem: Sendable, Hashable {
    /// Catalogue index: `k·itemsPerCategory + j` for `item-KNNNN` (see `SyntheticShoppers.itemID`).
    public let item: Int
    public let probability: Double
}
