import Foundation
import Testing
@testable import VeilSynth

@Suite struct ItemCatalogTests {
    static let catalog = ItemCatalog(model: .standard)

    @Test func catalogueStructure() {
        let catalog = Self.catalog
        let perCategory = ShopperCatalog.itemsPerCategory
        #expect(catalog.priceCents.count == ShopperCatalog.itemCount)
        #expect(catalog.priceCents.allSatisfy { $0 >= 99 && $0 % 100 == 99 }, "every price ends in .99")
        let s = ShopperModel.standard.itemPopularityExponent
        let harmonic = (1...perCategory).reduce(0.0) { $0 + pow(Double($1), -s) }
        for category in ShopperCatalog.categories.indices {
            let items = (category * perCategory)..<((category + 1) * perCategory)
            #expect(abs(items.reduce(0.0) { $0 + catalog.popularity[$1] } - 1) < 1e-12)
            // Zipf: the r-th most popular item has weight r^-s / H.
            let ranked = catalog.byPopularity[items]
            #expect(Set(ranked) == Set(items))
            for (position, item) in ranked.enumerated() {
                #expect(abs(catalog.popularity[item] - pow(Double(position + 1), -s) / harmonic) < 1e-15)
            }
            // Popularity is not the item number: the most popular item is not item 0 of every category.
            #expect(ranked.first! != items.lowerBound || category > 0)
        }
        // Lines: 10 items of one category; durable lines hold 3 mains then accessories.
        var consumableLines = [Int](repeating: 0, count: ShopperCatalog.categories.count)
        for line in 0..<(ShopperCatalog.itemCount / ShopperCatalog.itemsPerLine) {
            let members = catalog.lineItems[(line * 10)..<(line * 10 + 10)]
            #expect(members.allSatisfy { catalog.line[$0] == line })
            #expect(Set(members.map(ItemCatalog.category)).count == 1)
            let roles = members.map { catalog.role[$0] }
            if roles.allSatisfy({ $0 == .consumable }) {
                consumableLines[line / ItemCatalog.linesPerCategory] += 1
            } else {
                #expect(roles == [.main, .main, .main] + Array(repeating: .accessory, count: 7))
            }
        }
        #expect(consumableLines[5] == 0, "books sell no consumables")
        #expect(consumableLines[7] > 70 && consumableLines[0] < 15, "grocery is mostly consumables, electronics mostly not: \(consumableLines)")
        // Main items cost more than accessories in the same category, on the median.
        let electronics = 0..<perCategory
        let mains = electronics.filter { catalog.role[$0] == .main }.map { catalog.priceCents[$0] }.sorted()
        let accessories = electronics.filter { catalog.role[$0] == .accessory }.map { catalog.priceCents[$0] }.sorted()
        #expect(mains[mains.count / 2] > 3 * accessories[accessories.count / 2])
    }

    @Test func sameCatalogueForEverySeed() throws {
        func csv(seed: UInt64) throws -> [UInt8] {
            var bytes: [UInt8] = []
            try SyntheticShoppers(SynthConfiguration(users: 1, days: 1, seed: seed)).writeCatalog { bytes.append(contentsOf: $0) }
            return bytes
        }
        let first = try csv(seed: 1)
        let other = try csv(seed: 99)
        #expect(first == other)
        let rows = String(decoding: first, as: UTF8.self).split(separator: "\n")
        #expect(rows.count == ShopperCatalog.itemCount + 1)
        #expect(rows[0] == "item_id,category")
        #expect(rows[1] == "item-00000,electronics" && rows.last == "item-70999,grocery")
    }

    /// Popularity draws follow the weights: 400,000 draws in one category (fixed seed); each of the 20 most
    /// popular items' frequency within 5 standard errors, and the share of the other 980 too.
    @Test func popularityDrawsFollowTheWeights() {
        let catalog = Self.catalog
        var random = ShopperRandom(rootKey: [3, 1, 4, 1], user: 5, purpose: 9)
        let draws = 400_000
        var counts = [Int](repeating: 0, count: ShopperCatalog.itemsPerCategory)
        for _ in 0..<draws { counts[catalog.popular(in: 2, &random) - 2000] += 1 }
        var headMass = 0.0
        var headCount = 0
        for item in catalog.byPopularity[2000..<2020] {
            let p = catalog.popularity[item]
            let standardError = (p * (1 - p) / Double(draws)).squareRoot()
            #expect(abs(Double(counts[item - 2000]) / Double(draws) - p) < 5 * standardError, "item \(item)")
            headMass += p
            headCount += counts[item - 2000]
        }
        let tail = 1 - headMass
        #expect(abs(Double(draws - headCount) / Double(draws) - tail) < 5 * (tail * (1 - tail) / Double(draws)).squareRoot())
    }
}

@Suite struct ItemChoiceTests {
    /// A memory with recent views in two categories, two bought mains (one line twice) and consumables.
    static func memory(_ catalog: ItemCatalog) -> ShopperMemory {
        var memory = ShopperMemory()
        let rule = ItemChoiceRule(.standard)
        let electronicsMain = (0..<1000).first { catalog.role[$0] == .main }!
        let groceryConsumables = (7000..<8000).filter { catalog.role[$0] == .consumable }.prefix(3)
        for item in [12, 500, 999, 2003, 7001, electronicsMain] { memory.viewed(item, rule: rule) }
        memory.bought(electronicsMain, role: .main, rule: rule)
        for item in groceryConsumables { memory.bought(item, role: .consumable, rule: rule) }
        return memory
    }

    /// `nextViewDistribution` is the law of a session's first view: it sums to 1 over the catalogue, and
    /// 500,000 first views drawn by `chooseItem` (category from the affinities) match it: each of the top 30
    /// items within 5 standard errors, and the top-30 mass too. Fixed seed.
    @Test func firstViewDistributionIsExact() {
        let shoppers = SyntheticShoppers(SynthConfiguration(users: 1, days: 1, seed: 1))
        let memory = Self.memory(shoppers.catalog)
        let affinity = [0.4, 0.05, 0.05, 0.1, 0.05, 0.05, 0.05, 0.25]
        let full = shoppers.nextViewDistribution(memory: memory, affinity: affinity, top: ShopperCatalog.itemCount)
        #expect(full.count == ShopperCatalog.itemCount)
        #expect(abs(full.reduce(0) { $0 + $1.probability } - 1) < 1e-12)
        let top = shoppers.nextViewDistribution(memory: memory, affinity: affinity, top: 30)
        #expect(top == Array(full.prefix(30)), "the candidate list finds the true top 30")
        #expect(zip(top, top.dropFirst()).allSatisfy { $0.probability >= $1.probability })

        var random = ShopperRandom(rootKey: [2, 7, 1, 8], user: 3, purpose: 1)
        var cumulative: [Double] = []
        var total = 0.0
        for share in affinity {
            total += share
            cumulative.append(total)
        }
        let draws = 500_000
        var counts: [Int: Int] = [:]
        for _ in 0..<draws {
            let u = random.uniform()
            let category = cumulative.firstIndex { u < $0 } ?? affinity.count - 1
            counts[shoppers.chooseItem(category: category, previous: -1, memory: memory, random: &random), default: 0] += 1
        }
        var mass = 0.0
        var hits = 0
        for entry in top {
            let p = entry.probability
            let frequency = Double(counts[entry.item, default: 0]) / Double(draws)
            #expect(abs(frequency - p) < 5 * (p * (1 - p) / Double(draws)).squareRoot(), "item \(entry.item): \(frequency) vs \(p)")
            mass += p
            hits += counts[entry.item, default: 0]
        }
        #expect(abs(Double(hits) / Double(draws) - mass) < 5 * (mass * (1 - mass) / Double(draws)).squareRoot())
    }

    /// Memory rules: a bought item is forgotten as a recent view; lists keep their most recent entries.
    @Test func memoryKeepsTheMostRecent() {
        var model = ShopperModel.standard
        model.recentViewMemory = 3
        let rule = ItemChoiceRule(model)
        var memory = ShopperMemory()
        for item in [1, 2, 3, 2, 4] { memory.viewed(item, rule: rule) }
        #expect(memory.recentViews == [3, 2, 4])
        memory.bought(2, role: .accessory, rule: rule)
        #expect(memory.recentViews == [3, 4] && memory.mains.isEmpty && memory.consumables.isEmpty)
        memory.bought(3, role: .main, rule: rule)
        memory.bought(7005, role: .consumable, rule: rule)
        #expect(memory.recentViews == [4] && memory.mains == [3] && memory.consumables == [7005])
        #expect(ShopperMemory.count([12, 1500, 999], in: 0) == 2 && ShopperMemory.count([12, 1500, 999], in: 0, excluding: 12) == 1)
        #expect(ShopperMemory.item(1, of: [12, 1500, 999], in: 0) == 999)
    }
}

/// The patterns the item model adds, against the same data generated without them (walk, revisit,
/// accessory and repeat probabilities 0: every view by popularity alone). 1,000 users × 60 days, seed 5.
@Suite struct ItemPatternTests {
    struct Stats {
        /// Consecutive views in a session in the same product line, per pair of consecutive views in one category.
        var sameLineShare = 0.0
        /// Purchases of an item the user viewed in an earlier session, per purchase.
        var viewedEarlierShare = 0.0
        /// Views of an accessory of a main item the user bought before, per view.
        var accessoryAfterMainShare = 0.0
        /// Purchases of a consumable the user bought before, per consumable purchase.
        var repeatShare = 0.0
        var events = 0
    }

    static func stats(_ model: ShopperModel) throws -> Stats {
        var config = SynthConfiguration(users: 1000, days: 60, seed: 5)
        config.model = model
        let shoppers = SyntheticShoppers(config)
        let catalog = shoppers.catalog
        var index: [String: Int] = [:]
        for item in 0..<ShopperCatalog.itemCount { index[shoppers.itemID(item)] = item }
        var stats = Stats()
        var pairs = (same: 0, all: 0)
        var purchases = (viewedEarlier: 0, all: 0)
        var views = (accessory: 0, all: 0)
        var consumables = (repeated: 0, all: 0)
        for user in 0..<config.users {
            var earlierViews = Set<Int>()
            var sessionViews = Set<Int>()
            var boughtMainLines = Set<Int>()
            var boughtConsumables = Set<Int>()
            var session = ""
            var previous = -1
            for event in try parse(shoppers.events(ofUser: user)) {
                stats.events += 1
                if event.session != session {
                    earlierViews.formUnion(sessionViews)
                    sessionViews = []
                    session = event.session
                    previous = -1
                }
                guard let id = event.item, let item = index[id] else { continue }
                switch event.type {
                case "view":
                    if previous >= 0 && ItemCatalog.category(of: previous) == ItemCatalog.category(of: item) {
                        pairs.all += 1
                        if catalog.line[previous] == catalog.line[item] { pairs.same += 1 }
                    }
                    views.all += 1
                    if catalog.role[item] == .accessory && boughtMainLines.contains(catalog.line[item]) { views.accessory += 1 }
                    previous = item
                    sessionViews.insert(item)
                case "purchase":
                    purchases.all += 1
                    if earlierViews.contains(item) { purchases.viewedEarlier += 1 }
                    switch catalog.role[item] {
                    case .main: boughtMainLines.insert(catalog.line[item])
                    case .consumable:
                        consumables.all += 1
                        if boughtConsumables.contains(item) { consumables.repeated += 1 }
                        boughtConsumables.insert(item)
                    case .accessory: break
                    }
                default: break
                }
            }
        }
        stats.sameLineShare = Double(pairs.same) / Double(pairs.all)
        stats.viewedEarlierShare = Double(purchases.viewedEarlier) / Double(purchases.all)
        stats.accessoryAfterMainShare = Double(views.accessory) / Double(views.all)
        stats.repeatShare = Double(consumables.repeated) / Double(consumables.all)
        return stats
    }

    /// Each threshold fails when its pattern is switched off (the ratio is then about 1) and leaves room
    /// below what the standard model gives (the messages print both sides).
    @Test func patternsAppearOnlyWithTheItemModel() throws {
        var plain = ShopperModel.standard
        plain.walkProbability = 0
        plain.revisitProbability = 0
        plain.accessoryProbability = 0
        plain.repeatProbability = 0
        let with = try Self.stats(.standard)
        let without = try Self.stats(plain)
        #expect(with.sameLineShare > 0.4 && without.sameLineShare < 0.1, "walk: \(with.sameLineShare) vs \(without.sameLineShare)")
        #expect(with.viewedEarlierShare > 1.5 * without.viewedEarlierShare, "viewed, then bought: \(with.viewedEarlierShare) vs \(without.viewedEarlierShare)")
        #expect(with.accessoryAfterMainShare > 2 * without.accessoryAfterMainShare, "accessories: \(with.accessoryAfterMainShare) vs \(without.accessoryAfterMainShare)")
        #expect(with.repeatShare > 2 * without.repeatShare, "repeat purchases: \(with.repeatShare) vs \(without.repeatShare)")
    }
}
