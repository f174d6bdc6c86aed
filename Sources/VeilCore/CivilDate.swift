/// A calendar date in the proleptic Gregorian calendar, UTC, years 1970–9999.
///
/// Parsed from and shown as `YYYY-MM-DD`. Synthetic data is laid out on whole UTC days counted from
/// a start date, so this is all the calendar the generator needs (no Foundation `Calendar`, no time zones).
public struct CivilDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public let daysSinceEpoch: Int

    public init(daysSinceEpoch: Int) {
        precondition(daysSinceEpoch >= 0 && daysSinceEpoch <= CivilDate.maxDays, "date out of range 1970–9999")
        self.daysSinceEpoch = daysSinceEpoch
    }

    /// The date `year-month-day`, or nil when it does not exist or lies outside 1970–9999.
    public init?(year: Int, month: Int, day: Int) {
        guard (1970...9999).contains(year), (1...12).contains(month), (1...31).contains(day) else { return nil }
        let days = CivilDate.daysFromCivil(year: year, month: month, day: day)
        let back = CivilDate.civilFromDays(days)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        daysSinceEpoch = days
    }

    /// Parses exactly `YYYY-MM-DD` (`DateText.days`); nil for any other text, a date that does not
    /// exist or one outside 1970–9999.
    public init?(_ text: String) {
        guard let days = DateText.days(text), (0...CivilDate.maxDays).contains(days) else { return nil }
        daysSinceEpoch = days
    }

    public var year: Int { CivilDate.civilFromDays(daysSinceEpoch).year }
    public var month: Int { CivilDate.civilFromDays(daysSinceEpoch).month }
    public var day: Int { CivilDate.civilFromDays(daysSinceEpoch).day }

    /// Day of the week, 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
    public var weekday: Int { (daysSinceEpoch + 3) % 7 }

    /// The date `days` later (or earlier, if negative).
    public func adding(days: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + days) }

    /// Whole days from `self` to `other`.
    public func days(until other: CivilDate) -> Int { other.daysSinceEpoch - daysSinceEpoch }

    /// `YYYY-MM-DD`.
    public var description: String { String(decoding: isoBytes, as: UTF8.self) }

    /// The ASCII bytes of `YYYY-MM-DD`.
    public var isoBytes: [UInt8] {
        let (year, month, day) = CivilDate.civilFromDays(daysSinceEpoch)
        var out: [UInt8] = []
        out.reserveCapacity(10)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        return out
    }

    /// `YYYY-MM-DD` of the UTC day holding `millis` (any year, proleptic Gregorian).
    public static func label(millis: Int64) -> String {
        let day = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let (year, month, day2) = civilFromDays(Int(day))
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day2, 2))"
    }

    /// 9999-12-31, the latest date a `CivilDate` can hold.
    public static let latest = CivilDate(daysSinceEpoch: maxDays)

    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool { lhs.daysSinceEpoch < rhs.daysSinceEpoch }

    public static let maxDays = 2_932_896  // 9999-12-31

    // Howard Hinnant's `days_from_civil` / `civil_from_days` (public domain), valid for any day
    // count (negative ones are before 1970), shared by every module that does calendar arithmetic.

    /// Days since 1970-01-01 of a proleptic Gregorian date (no validation: 2026-02-31 is 2026-03-03).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01.
    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of `year-month-day`, or nil when the month or the day does not exist.
    public static func checkedDaysFromCivil(year: Int, month: Int, day: Int) -> Int? {
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return daysFromCivil(year: year, month: month, day: day)
    }

    /// The number of days of `month` (1–12) in `year`.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
