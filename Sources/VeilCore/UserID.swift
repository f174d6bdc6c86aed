/// The rule for a raw user ID wherever Veil accepts one — an event, an erasure request, a prediction
/// request — so all of them agree on which IDs exist.
public enum UserID {
    /// The length of a user ID in bytes of UTF-8.
    public static let byteCount = 1...256

    /// Throws `.invalidInput` naming `field` when `id` breaks the rule. Never echoes the ID.
    public static func validate(_ id: String, field: String = "user_id") throws {
        guard byteCount.contains(id.utf8.count) else {
            throw VeilError(
                .invalidInput, field: field,
                "must be between \(byteCount.lowerBound) and \(byteCount.upperBound) bytes of UTF-8")
        }
    }
}
