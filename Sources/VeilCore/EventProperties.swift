/// The free-form properties an event keeps: numbers by key, only for keys the policy lists with their
/// bounds (`Policy.properties`); everything else is dropped at ingest and counted.
///
/// Stored as text: canonical JSON, one object with the keys in byte order and each number in Swift's
/// shortest round-trip form (integral values without a fraction) — the one definition both backends
/// write and read.
public enum EventProperties {
    /// `{"k":v,…}` with sorted keys; nil for no properties (stored as NULL).
    public static func text(_ properties: [String: Double]) -> String? {
        guard !properties.isEmpty else { return nil }
        let keys = properties.keys.sorted { ExactText.order($0, $1) < 0 }
        return "{" + keys.map { "\(quoted($0)):\(number(properties[$0]!))" }.joined(separator: ",") + "}"
    }

    /// The properties in `text` as `text(_:)` writes it; nil when it is not an object of numbers.
    public static func parse(_ text: String) -> [String: Double]? {
        guard case .object(let members)? = try? JSONNode.parse(text, limits: JSONLimits(maxBytes: 1 << 20)) else { return nil }
        var properties: [String: Double] = [:]
        for member in members {
            guard case .number(let written) = member.value, let value = Double(written) else { return nil }
            properties[member.key] = value
        }
        return properties
    }

    /// A number as JSON: integral values of magnitude below 2^53 without a fraction.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(String(scalar.value + 0x10000, radix: 16).dropFirst())
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
