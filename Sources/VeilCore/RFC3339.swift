/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`/`z` and a space for `T`
/// are accepted (RFC 3339 §5.6 note). Fractions beyond milliseconds are truncated.
public enum RFC3339 {
    /// `YYYY-MM-DDTHH:MM:SSZ` of Unix ms (UTC, whole seconds; `.mmm` added when `millis` has a
    /// fraction), for showing stored times.
    public static func format(millis: Int64) -> String {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = Int(millis - seconds * 1000)
        let day = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = Int(seconds - day * 86_400)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let time = "\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))"
        let millisText = fraction == 0 ? "" : "." + String(String(fraction + 1000).dropFirst())
        return CivilDate.label(millis: millis) + "T" + time + millisText + "Z"
    }

    public static func parseMillis(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseMillis($0) }
    }

    public static func parseMillis(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        // Shortest form: 2026-11-23T10:15:00Z (20 bytes).
        guard s.count >= 20, s.count <= 64 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var value = 0
            for index in at..<(at + count) {
                let digit = s[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            return value
        }
        guard let year = digits(0, 4), s[4] == UInt8(ascii: "-"), let month = digits(5, 2), s[7] == UInt8(ascii: "-"),
            let day = digits(8, 2), s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: "t") || s[10] == UInt8(ascii: " "),
            let hour = digits(11, 2), s[13] == UInt8(ascii: ":"), let minute = digits(14, 2), s[16] == UInt8(ascii: ":"),
            let second = digits(17, 2)
        else { return nil }
        var index = 19
        var millis = 0
        if s[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < s.count, s[index] &- UInt8(ascii: "0") < 10 {
                if index - start < 3 { millis = millis * 10 + Int(s[index] - UInt8(ascii: "0")) }
                index += 1
            }
            let fractionDigits = index - start
            guard fractionDigits > 0 else { return nil }
            var scale = min(fractionDigits, 3)
            while scale < 3 {
                millis *= 10
                scale += 1
            }
        }
        guard index < s.count else { return nil }
        var offsetMinutes = 0
        switch s[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = s[index] == UInt8(ascii: "-") ? -1 : 1
            guard index + 6 == s.count, let offsetHours = digits(index + 1, 2), s[index + 3] == UInt8(ascii: ":"),
                let offsetMins = digits(index + 4, 2), offsetHours <= 23, offsetMins <= 59
            else { return nil }
            offsetMinutes = sign * (offsetHours * 60 + offsetMins)
            index += 6
        default:
            return nil
        }
        guard index == s.count else { return nil }
        guard let days = CivilDate.checkedDaysFromCivil(year: year, month: month, day: day), hour <= 23, minute <= 59,
            second <= 60
        else { return nil }
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }
}

