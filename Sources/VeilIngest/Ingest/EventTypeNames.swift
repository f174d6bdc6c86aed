import VeilCore

/// Event type names: the canonical names, and Google Analytics 4 recommended-event names accepted as
/// aliases. This table is the one documented in docs/ingest.md.
public enum EventTypeNames {
    /// GA4 name → Veil type. Canonical names that GA4 shares (`search`, `add_to_cart`,
    /// `remove_from_cart`, `purchase`) need no alias.
    public static let ga4Aliases: [(ga4: String, type: EventType)] = [
        ("view_item", .view),
        ("view_item_list", .view),
        ("view_search_results", .search),
        ("select_item", .click),
        ("select_promotion", .click),
        ("begin_checkout", .checkout),
        ("refund", .return),
    ]

    private static let lookup: [String: EventType] = {
        var table = [String: EventType]()
        for type in EventType.allCases { table[type.rawValue] = type }
        for (name, type) in ga4Aliases { table[name] = type }
        return table
    }()

    /// The canonical names, comma-separated, for messages.
    public static let canonicalList = EventType.allCases.map(\.rawValue).joined(separator: ", ")

    /// The type a canonical name or GA4 alias stands for (exact, case-sensitive match).
    public static func resolve(_ name: String) -> EventType? { lookup[name] }
}
