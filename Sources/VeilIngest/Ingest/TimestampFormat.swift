import Foundation
import VeilCore

/// A fixed timestamp layout for imports, given in strftime (`%Y-%m-%d %H:%M:%S`) or Unicode/ICU
/// (`yyyy-MM-dd HH:mm:ss`) notation. `parse` gives the local time as if it were UTC (fields left out are
/// zero, so a date-only value is midnight); `TimestampReading` applies the import's time zone.
///
/// Supported: `%Y`/`yyyy` (4-digit year), `%y`/`yy` (2-digit year, 2000–2099… as 20yy), `%m`/`MM`/`M`,
/// `%d`/`dd`/`d`, `%H`/`HH`/`H`, `%M`/`mm`/`m`, `%S`/`ss`/`s`, `SSS` (milliseconds), `%%`, and literal
/// characters (ICU text in single quotes).
public struct TimestampFormat: Sendable, Hashable {
    public let pattern: String
    private let tokens: [Token]

    private enum Token: Hashable {
        case year4, year2, month, day, hour, minute, second, millis
        case literal(UInt8)
    }

    /// The longest pattern accepted.
    public static let maxLength = 64

    /// Compiles `pattern`; throws `MappingRuleError` for a directive it does not support.
    public init(_ pattern: String) throws(MappingRuleError) {
        guard pattern.utf8.count <= Self.maxLength else {
            throw MappingRuleError("is longer than \(Self.maxLength) bytes; a timestamp format is a short pattern")
        }
        self.pattern = pattern
        var tokens: [Token] = []
        let chars = Array(pattern.utf8)
        var index = 0
        func unsupported(_ what: String) -> MappingRuleError {
            MappingRuleError(
                "\(what) is not supported; use %Y %y %m %d %H %M %S (or yyyy yy MM dd HH mm ss SSS) and literal characters, or one of \(TimestampReading.layoutNames.map(\.name).joined(separator: ", "))")
        }
        while index < chars.count {
            let char = chars[index]
            if char == UInt8(ascii: "%") {
                guard index + 1 < chars.count else { throw unsupported("a trailing %") }
                let directive = chars[index + 1]
                switch directive {
                case UInt8(ascii: "Y"): tokens.append(.year4)
                case UInt8(ascii: "y"): tokens.append(.year2)
                case UInt8(ascii: "m"): tokens.append(.month)
                case UInt8(ascii: "d"): tokens.append(.day)
                case UInt8(ascii: "H"): tokens.append(.hour)
                case UInt8(ascii: "M"): tokens.append(.minute)
                case UInt8(ascii: "S"): tokens.append(.second)
                case UInt8(ascii: "%"): tokens.append(.literal(UInt8(ascii: "%")))
                default: throw unsupported("%" + String(UnicodeScalar(directive)))
                }
                index += 2
                continue
            }
            if char == UInt8(ascii: "'") {
                index += 1
                while index < chars.count, chars[index] != UInt8(ascii: "'") {
                    tokens.append(.literal(chars[index]))
                    index += 1
                }
                index += 1
                continue
            }
            if (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(char) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(char) {
                var run = 1
                while index + run < chars.count, chars[index + run] == char { run += 1 }
                let letter = Character(UnicodeScalar(char))
                switch (letter, run) {
                case ("y", 4): tokens.append(.year4)
                case ("y", 2): tokens.append(.year2)
                case ("M", 1), ("M", 2): tokens.append(.month)
                case ("d", 1), ("d", 2): tokens.append(.day)
                case ("H", 1), ("H", 2): tokens.append(.hour)
                case ("m", 1), ("m", 2): tokens.append(.minute)
                case ("s", 1), ("s", 2): tokens.append(.second)
                case ("S", 3): tokens.append(.millis)
                default: throw unsupported(String(repeating: letter, count: run))
                }
                index += run
                continue
            }
            tokens.append(.literal(char))
            index += 1
        }
        guard tokens.contains(.year4) || tokens.contains(.year2), tokens.contains(.month), tokens.contains(.day) else {
            throw MappingRuleError("must contain a year, a month and a day")
        }
        self.tokens = tokens
    }

    /// Unix milliseconds (UTC) of `text`, or nil when it does not match the format exactly.
    public func parse(_ text: String) -> Int64? {
        let s = Array(text.utf8)
        var index = 0
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0
        func number(maxDigits: Int, exactly: Bool) -> Int? {
            var value = 0
            var count = 0
            while count < maxDigits, index < s.count, s[index] &- UInt8(ascii: "0") < 10 {
                value = value * 10 + Int(s[index] - UInt8(ascii: "0"))
                index += 1
                count += 1
            }
            if count == 0 || (exactly && count != maxDigits) { return nil }
            return value
        }
        for token in tokens {
            switch token {
            case .year4: guard let v = number(maxDigits: 4, exactly: true) else { return nil }; year = v
            case .year2: guard let v = number(maxDigits: 2, exactly: true) else { return nil }; year = 2000 + v
            case .month: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; month = v
            case .day: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; day = v
            case .hour: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; hour = v
            case .minute: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; minute = v
            case .second: guard let v = number(maxDigits: 2, exactly: false) else { return nil }; second = v
            case .millis: guard let v = number(maxDigits: 3, exactly: true) else { return nil }; millis = v
            case .literal(let byte):
                guard index < s.count, s[index] == byte else { return nil }
                index += 1
            }
        }
        guard index == s.count, hour <= 23, minute <= 59, second <= 60,
            let days = CivilDate.checkedDaysFromCivil(year: year, month: month, day: day)
        else { return nil }
        return (Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)) * 1000 + Int64(millis)
    }
}
