/// Dates and times as Veil reads them from people and programs: RFC 3339 date-times (events, request
/// bodies) and `YYYY-MM-DD` days. One parser of each form, shared by the CLI, the gateway and ingest.
public enum DateText {
    /// `YYYY-MM-DD` (00:00 UTC of that day; with `endOfDay`, 00:00 UTC of the next) or an RFC 3339
    /// date-time, as Unix milliseconds; nil for anything else. Days run 0000-01-01 … 9999-12-31.
    public static func millis(_ text: String, endOfDay: Bool = false) -> Int64? {
        if let days = days(text) { return (Int64(days) + (endOfDay ? 1 : 0)) * 86_400_000 }
        return RFC3339.parseMillis(text)
    }

    /// Days since 1970-01-01 of exactly `YYYY-MM-DD` (a date that exists), else nil.
    public static func days(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        return CivilDate.checkedDaysFromCivil(year: year, month: month, day: day)
    }

    /// The rule the forms above follow, for messages.
    public static let rule = "must be a date YYYY-MM-DD (UTC) or an RFC 3339 date-time such as 2026-11-01T00:00:00Z"
}
