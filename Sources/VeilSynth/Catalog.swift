import Foundation

/// The search vocabulary of synthetic shoppers (the items are in `ItemCatalog`).
enum Catalog {
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
