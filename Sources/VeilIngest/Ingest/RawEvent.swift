import VeilCore

/// The fields of an event on the wire, by their JSON names.
public enum EventField: String, Sendable, CaseIterable, Hashable {
    case eventID = "event_id"
    case userID = "user_id"
    case type
    case timestamp
    case sessionID = "session_id"
    case itemID = "item_id"
    case category
    case price
    case quantity
    case rating
    case query

    /// The fields a policy may drop before storage (`ingest.drop_fields`); the others are required.
    public static let droppable: Set<EventField> = [.sessionID, .itemID, .category, .price, .quantity, .rating, .query]
}

/// A field value as it arrived, before validation: the JSON kind, and the value for the kinds a
/// field can legally have.
enum RawValue: Sendable {
    case string(String)
    /// A number; `integer` is set when the value is an exact integer that fits in `Int`.
    case number(Double, integer: Int?)
    case bool
    case null
    case object
    case array
}

/// One event as parsed from a JSON object or a CSV row, before validation. Holds raw IDs: it lives
/// only in memory while its batch is handled.
struct RawEvent: Sendable {
    var eventID: RawValue?
    var userID: RawValue?
    var type: RawValue?
    var timestamp: RawValue?
    var sessionID: RawValue?
    var itemID: RawValue?
    var category: RawValue?
    var price: RawValue?
    var quantity: RawValue?
    var rating: RawValue?
    var query: RawValue?
    /// `properties` as it arrived (its kind), and its members when it is an object: free-form keys and
    /// values, kept only as long as validation takes (`EventValidator` keeps what the policy lists).
    var properties: RawValue?
    var propertyMembers: [(key: String, value: RawValue)] = []
    /// Whether `properties` appeared more than once.
    var repeatedProperties = false
    /// The 1-based positions (among the object's members) of keys that are not event fields. The keys
    /// themselves are not kept: an unknown key may be personal data (an email address sent as a key).
    var unknownFieldPositions: [Int] = []
    /// Known fields that appeared more than once.
    var repeatedFields: [EventField] = []

    subscript(field: EventField) -> RawValue? {
        get {
            switch field {
            case .eventID: eventID
            case .userID: userID
            case .type: type
            case .timestamp: timestamp
            case .sessionID: sessionID
            case .itemID: itemID
            case .category: category
            case .price: price
            case .quantity: quantity
            case .rating: rating
            case .query: query
            }
        }
        set {
            switch field {
            case .eventID: eventID = newValue
            case .userID: userID = newValue
            case .type: type = newValue
            case .timestamp: timestamp = newValue
            case .sessionID: sessionID = newValue
            case .itemID: itemID = newValue
            case .category: category = newValue
            case .price: price = newValue
            case .quantity: quantity = newValue
            case .rating: rating = newValue
            case .query: query = newValue
            }
        }
    }

    /// Sets a field as a parser meets it, noting repeats.
    mutating func set(_ field: EventField, _ value: RawValue) {
        if self[field] != nil { repeatedFields.append(field) }
        self[field] = value
    }
}

/// A record of a batch or file: a parsed event, or why it could not be parsed (never its content).
enum ParsedRecord: Sendable {
    case event(RawEvent)
    case malformed(EventProblemDraft)
}

/// A problem before its position is known.
struct EventProblemDraft: Sendable, Hashable {
    var field: String
    var message: String
}

/// An event that passed every rule. Still holds the raw user and session IDs.
struct ValidEvent: Sendable {
    /// nil on import when the record had none: `IngestService.prepare` derives one from the content.
    var eventID: String?
    var userID: String
    var type: EventType
    var timestampMillis: Int64
    var sessionID: String?
    var itemID: String?
    var category: String?
    var price: Double?
    var quantity: Int?
    var rating: Int?
    var query: String?
    /// The properties the policy lists, within their bounds.
    var properties: [String: Double] = [:]
    /// Properties the event carried that were dropped (not listed, of the wrong kind or out of bounds).
    var droppedProperties = 0
}
