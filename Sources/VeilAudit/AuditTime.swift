import Foundation

/// Record times: RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T10:15:00.123Z`.
enum AuditTime {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let withoutFraction = Date.ISO8601FormatStyle()

    static func format(_ date: Date) -> String { withFraction.format(date) }

    /// True when `text` is an RFC 3339 timestamp (with or without fractional seconds).
    static func isValid(_ text: String) -> Bool {
        (try? withFraction.parse(text)) != nil || (try? withoutFraction.parse(text)) != nil
    }
}
