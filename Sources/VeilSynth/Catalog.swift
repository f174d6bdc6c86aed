import Foundation

/// The synthetic product catalog and search vocabulary. The catalog is the same for every seed.
enum Catalog {
    /// Item prices in cents: `floor(m_k · exp(σ·n)) − 0.01` currency units (at least 0.99), with
    /// n ~ N(0, 1) from a fixed stream, so every price ends in .99.
    static func prices(model: ShopperModel) -> [Int] {
        var random = ShopperRandom(rootKey: [0x7665_696C_2D63_6174, 0, 0, 0], user: 0, purpose: 99)
        var prices: [Int] = []
        prices.reserveCapacity(ShopperCatalog.categories.count * ShopperCatalog.itemsPerCategory)
        for category in ShopperCatalog.categories.indices {
            for _ in 0..<ShopperCatalog.itemsPerCategory {
                let units = model.medianPrice[category] * Foundation.exp(model.priceSpread * random.normal())
                prices.append(max(1, Int(units.rounded(.down))) * 100 - 1)
            }
        }
        return prices
    }

    /// Search queries per category (plain lowercase ASCII: nothing that needs JSON escaping).
    static let queries: [[String]] = [
        [
            "headphones", "cheap headphones", "wireless earbuds", "usb c charger", "4k tv", "gaming laptop",
            "phone case", "bluetooth speaker", "smart watch",
        ],
        [
            "running shoes", "summer dress", "winter jacket", "leather belt", "slim fit jeans", "wool scarf",
            "cheap sneakers", "linen shirt",
        ],
        [
            "coffee maker", "queen bed sheets", "desk lamp", "air purifier", "non stick pan", "storage boxes",
            "bath towels",
        ],
        [
            "vitamin c serum", "shampoo", "sunscreen spf 50", "lipstick", "face moisturizer", "hair dryer",
            "perfume gift set",
        ],
        [
            "yoga mat", "dumbbells", "running socks", "bike helmet", "water bottle", "tennis racket",
            "hiking backpack",
        ],
        ["mystery novel", "cookbook", "sci fi paperback", "children books", "biography", "self help", "bestsellers 2026"],
        ["lego set", "board game", "puzzle 1000 pieces", "plush toy", "rc car", "dollhouse", "toys for 5 year old"],
        ["coffee beans", "green tea", "olive oil", "protein bars", "dark chocolate", "pasta", "oat milk"],
    ]
}
