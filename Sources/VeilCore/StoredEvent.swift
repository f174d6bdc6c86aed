/// An event as Veil stores it: validated, minimised and pseudonymised. It holds no raw user or session ID.
public struct StoredEvent: Sendable, Hashable, Codable {
    /// The client's idempotency key (unique in the store).
    public var eventID: String
    /// The user's pseudonym at `epoch`.
    public var pseudonym: Pseudonym
    /// The key epoch the pseudonyms were derived at.
    public var epoch: UInt32
    public var type: EventType
    /// Event time as Unix milliseconds (UTC).
    public var timestampMillis: Int64
    /// The session's pseudonym (KDF context `veil-sid`), if the client sent a session ID.
    public var session: Pseudonym?
    public var itemID: String?
    public var category: String?
    /// Unit price, ≥ 0.
    public var price: Double?
    /// Quantity, ≥ 1.
    public var quantity: Int?
    /// Rating 1…5, reviews only.
    public var rating: Int?
    /// Search text; kept only if the policy does not drop it (by default it is dropped).
    public var query: String?
    /// Free-form numbers by key, only those the policy lists within their bounds (`EventProperties`).
    public var properties: [String: Double]

    public init(
        eventID: String, pseudonym: Pseudonym, epoch: UInt32, type: EventType, timestampMillis: Int64,
        session: Pseudonym? = nil, itemID: String? = nil, category: String? = nil, price: Double? = nil,
        quantity: Int? = nil, rating: Int? = nil, query: String? = nil, properties: [String: Double] = [:]
    ) {
        self.eventID = eventID
        self.pseudonym = pseudonym
        self.epoch = epoch
        self.type = type
        self.timestampMillis = timestampMillis
        self.session = session
        self.itemID = itemID
        self.category = category
        self.price = price
        self.quantity = quantity
        self.rating = rating
        self.query = query
        self.properties = properties
    }
}
