/// The kinds of behaviour event Veil stores. Raw values are the canonical wire names.
public enum EventType: String, Sendable, Codable, CaseIterable, Hashable {
    case view, search, click
    case addToCart = "add_to_cart"
    case removeFromCart = "remove_from_cart"
    case checkout, purchase
    case `return`
    case review

    /// A small dense index (0..<allCases.count), for counting arrays and compact storage.
    public var index: Int { Self.allCases.firstIndex(of: self)! }
}
