/// The kinds of behaviour event Veil stores. Raw values are the canonical wire names.
public enum EventType: String, Sendable, Codable, CaseIterable, Hashable {
    case view, search, click
    case addToCart = "add_to_cart"
    case removeFromCart = "remove_from_cart"
    case checkout, purchase
    case `return`
    case review

    /// A small dense index: the case's position in `allCases` (0..<allCases.count), for counting arrays
    /// and compact storage. A switch, not an `allCases` search: it runs once per event in scans.
    @inline(__always)
    public var index: Int {
        switch self {
        case .view: 0
        case .search: 1
        case .click: 2
        case .addToCart: 3
        case .removeFromCart: 4
        case .checkout: 5
        case .purchase: 6
        case .return: 7
        case .review: 8
        }
    }
}
