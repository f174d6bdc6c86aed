import Foundation

/// Record times: RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T10:15:00.123Z`.
public enum AuditTime {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    public static func format(_ date: Date) -> String { withFraction.format(date) }

    /// The time `text` names, or nil when it is not an RFC 3339 timestamp (with or without fractional
    /// seconds).
    public static func date(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? withoutFraction.parse(text))
    }

    /// True when `text` is an RFC 3339 timestamp (with or without fractional seconds).
    static func isValid(_ text: String) -> Bool { date(text) != nil }
}
