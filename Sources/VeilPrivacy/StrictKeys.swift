/// Rejecting keys a JSON object must not have: the audit format's objects (`PrivacyMechanism`,
/// `AccountingMethod`) carry exactly their documented keys.
enum StrictKeys {
    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Throws a `DecodingError` naming the first key of the object being decoded that is not in `allowed`.
    static func require(_ decoder: any Decoder, allowed: Set<String>) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
            throw DecodingError.dataCorruptedError(
                forKey: AnyKey(stringValue: unknown), in: container,
                debugDescription: "unknown key \(unknown); the keys here are \(allowed.sorted().joined(separator: ", "))")
        }
    }
}
