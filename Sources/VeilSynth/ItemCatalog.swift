import Foundation

/// What an item is, for the shopper patterns that follow a purchase.
public enum ItemRole: UInt8, Sendable, CaseIterable {
    /// A main product (a laptop, a bike): after buying one, shoppers look at its accessories.
    case main
    /// An accessory of the main products in its line (a case, a helmet).
    case accessory
    /// A consumable (coffee beans, shampoo): bought again.
    case consumable
}

/// The synthetic product catalogue (docs/synthetic-data.md, "Items"): `ShopperCatalog.itemCount` items,
/// `ShopperCatalog.itemsPerCategory` in each category, each with a popularity, a product line, a role and a
/// price. It is the same for every seed (it depends only on the model's item parameters), so a policy can
/// name the public catalogue file `veil generate --catalog` writes.
///
/// Item index `i = k·itemsPerCategory + j` is the item `item-KNNNN` (K = k, NNNN = j). Popularity and lines
/// are assigned by fixed random permutations, so an item's number says nothing about either.
struct ItemCatalog: Sendable {
    static var itemsPerCategory: Int { ShopperCatalog.itemsPerCategory }
    static var itemsPerLine: Int { ShopperCatalog.itemsPerLine }
    static var linesPerCategory: Int { ShopperCatalog.itemsPerCategory / ShopperCatalog.itemsPerLine }

    /// Unit price in cents of each item; every price ends in .99.
    let priceCents: [Int]
    let role: [ItemRole]
    /// z: popularity of each item within its category (sums to 1 over a category).
    let popularity: [Double]
    /// The product line of each item, numbered across categories (category · linesPerCategory + line).
    let line: [Int]
    /// The items of each line, `itemsPerLine` per line.
    let lineItems: [Int]
    /// Each category's items by popularity, most popular first (`itemsPerCategory` per category).
    let byPopularity: [Int]
    /// Walker's alias table over each category's popularity: column j keeps item j with probability
    /// `aliasKeep[i]`, else gives `aliasOther[i]`.
    private let aliasKeep: [Double]
    private let aliasOther: [Int]

    init(model: ShopperModel) {
        let categories = ShopperCatalog.categories.count
        let perCategory = Self.itemsPerCategory
        let count = categories * perCategory
        // Four fixed streams: prices (the stream of the original catalogue), popularity ranks, lines, line kinds.
        let key: [UInt64] = [0x7665_696C_2D63_6174, 0, 0, 0]
        var priceStream = ShopperRandom(rootKey: key, user: 0, purpose: 99)
        var rankStream = ShopperRandom(rootKey: key, user: 0, purpose: 98)
        var lineStream = ShopperRandom(rootKey: key, user: 0, purpose: 97)
        var kindStream = ShopperRandom(rootKey: key, user: 0, purpose: 96)

        var popularity = [Double](repeating: 0, count: count)
        var byPopularity = [Int](repeating: 0, count: count)
        var line = [Int](repeating: 0, count: count)
        var lineItems = [Int](repeating: 0, count: count)
        var role = [ItemRole](repeating: .accessory, count: count)
        var priceCents = [Int](repeating: 0, count: count)
        var aliasKeep = [Double](repeating: 1, count: count)
        var aliasOther = [Int](repeating: 0, count: count)
        let zipf = (1...perCategory).map { Foundation.pow(Double($0), -model.itemPopularityExponent) }
        let zipfTotal = zipf.reduce(0, +)

        for category in 0..<categories {
            let base = category * perCategory
            // Popularity: the item at position r of a random permutation has rank r + 1.
            let ranked = Self.permutation(perCategory, &rankStream)
            for (rank, j) in ranked.enumerated() {
                popularity[base + j] = zipf[rank] / zipfTotal
                byPopularity[base + rank] = base + j
            }
            // Lines: consecutive runs of a second permutation; a line sells consumables or durables.
            let arranged = Self.permutation(perCategory, &lineStream)
            for lineIndex in 0..<Self.linesPerCategory {
                let globalLine = category * Self.linesPerCategory + lineIndex
                let consumable = kindStream.chance(model.consumableLineShare[category])
                for position in 0..<Self.itemsPerLine {
                    let item = base + arranged[lineIndex * Self.itemsPerLine + position]
                    line[item] = globalLine
                    lineItems[globalLine * Self.itemsPerLine + position] = item
                    role[item] = consumable ? .consumable : position < ShopperCatalog.mainsPerLine ? .main : .accessory
                }
            }
            for j in 0..<perCategory {
                let item = base + j
                let median = model.medianPrice[category] * model.rolePriceFactor[Int(role[item].rawValue)]
                let units = median * Foundation.exp(model.priceSpread * priceStream.normal())
                priceCents[item] = max(1, Int(units.rounded(.down))) * 100 - 1
            }
            Self.buildAlias(popularity[base..<(base + perCategory)], base: base, keep: &aliasKeep, other: &aliasOther)
        }
        self.popularity = popularity
        self.byPopularity = byPopularity
        self.line = line
        self.lineItems = lineItems
        self.role = role
        self.priceCents = priceCents
        self.aliasKeep = aliasKeep
        self.aliasOther = aliasOther
    }

    @inline(__always)
    static func category(of item: Int) -> Int { item / ShopperCatalog.itemsPerCategory }

    /// An item of `category` drawn by popularity (one uniform: column and keep-or-alias).
    @inline(__always)
    func popular(in category: Int, _ random: inout ShopperRandom) -> Int {
        let u = random.uniform() * Double(Self.itemsPerCategory)
        let column = min(Int(u), Self.itemsPerCategory - 1)
        let index = category * Self.itemsPerCategory + column
        return u - Double(column) < aliasKeep[index] ? index : aliasOther[index]
    }

    /// An item of `item`'s line other than itself, drawn by popularity.
    @inline(__always)
    func related(to item: Int, _ random: inout ShopperRandom) -> Int {
        let first = line[item] * Self.itemsPerLine
        var total = 0.0
        for position in first..<(first + Self.itemsPerLine) where lineItems[position] != item {
            total += popularity[lineItems[position]]
        }
        var u = random.uniform() * total
        var chosen = item
        for position in first..<(first + Self.itemsPerLine) where lineItems[position] != item {
            chosen = lineItems[position]
            u -= popularity[chosen]
            if u < 0 { break }
        }
        return chosen
    }

    /// An accessory of `main`'s line, drawn by popularity.
    @inline(__always)
    func accessory(of main: Int, _ random: inout ShopperRandom) -> Int {
        let first = line[main] * Self.itemsPerLine
        var u = random.uniform() * accessoryPopularity(ofLine: line[main])
        var chosen = main
        for position in first..<(first + Self.itemsPerLine) where role[lineItems[position]] == .accessory {
            chosen = lineItems[position]
            u -= popularity[chosen]
            if u < 0 { break }
        }
        return chosen
    }

    /// Total popularity of a line's accessories.
    func accessoryPopularity(ofLine line: Int) -> Double {
        let first = line * Self.itemsPerLine
        var total = 0.0
        for position in first..<(first + Self.itemsPerLine) where role[lineItems[position]] == .accessory {
            total += popularity[lineItems[position]]
        }
        return total
    }

    /// A uniformly random permutation of 0..<count (Fisher–Yates).
    private static func permutation(_ count: Int, _ random: inout ShopperRandom) -> [Int] {
        var values = Array(0..<count)
        for index in stride(from: count - 1, to: 0, by: -1) {
            values.swapAt(index, random.below(index + 1))
        }
        return values
    }

    /// Vose's alias method over `weights` (summing to 1), written at `base` in the tables.
    private static func buildAlias(_ weights: ArraySlice<Double>, base: Int, keep: inout [Double], other: inout [Int]) {
        let count = weights.count
        var scaled = weights.map { $0 * Double(count) }
        var small: [Int] = []
        var large: [Int] = []
        for (index, value) in scaled.enumerated() {
            if value < 1 { small.append(index) } else { large.append(index) }
        }
        while !small.isEmpty, let more = large.last {
            let less = small.removeLast()
            keep[base + less] = scaled[less]
            other[base + less] = base + more
            scaled[more] -= 1 - scaled[less]
            if scaled[more] < 1 {
                large.removeLast()
                small.append(more)
            }
        }
        for index in large + small {
            keep[base + index] = 1
            other[base + index] = base + index
        }
    }
}

extension SyntheticShoppers {
    /// The CSV header of the public catalogue file.
    public static let catalogHeader = "item_id,category"

    /// Writes the public catalogue (`veil generate --catalog`) through `write`: a header, then one row
    /// `item_id,category` per item in index order. It holds nothing about any user, and is the same for
    /// every seed under one model.
    public func writeCatalog(write: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buffer = ByteBuffer(capacity: 1 << 18)
        buffer.reserve(64)
        buffer.bytes(Array((Self.catalogHeader + "\n").utf8))
        for item in 0..<ShopperCatalog.itemCount {
            buffer.reserve(64)
            buffer.itemID(item)
            buffer.byte(UInt8(ascii: ","))
            buffer.bytes(categoryNames[ItemCatalog.category(of: item)])
            buffer.byte(UInt8(ascii: "\n"))
        }
        try buffer.withBytes(write)
    }
}
