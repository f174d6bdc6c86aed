import Foundation
import VeilCore

/// How an import reads its timestamps: the layout of the text and, for values without an offset, the
/// time zone they are in.
///
/// Layouts: RFC 3339 (the default), Unix time in seconds (a fraction allowed), milliseconds or
/// microseconds (whole numbers; GA4's `event_timestamp` is microseconds), or a fixed pattern
/// (`TimestampFormat`: `%Y%m%d`, `yyyy-MM-dd HH:mm`). A pattern's values, and RFC 3339 values written
/// without an offset (`2026-11-23T10:15:00`, `2026-11-23`), are local times in `zone` (UTC when none is
/// given); RFC 3339 values with an offset or `Z` keep theirs. Unix times are instants: no zone applies.
public struct TimestampReading: Sendable, Hashable {
    public enum Layout: Sendable, Hashable {
        case rfc3339
        case epochSeconds
        case epochMillis
        case epochMicros
        case pattern(TimestampFormat)
    }

    public let layout: Layout
    /// The zone of values without an offset; nil is UTC (and RFC 3339 values must then carry one).
    public let zone: ImportTimeZone?

    /// The names a mapping uses for the layouts that are not patterns.
    public static let layoutNames: [(name: String, layout: Layout)] = [
        ("rfc3339", .rfc3339), ("epoch_seconds", .epochSeconds), ("epoch_millis", .epochMillis),
        ("epoch_micros", .epochMicros),
    ]

    public init(layout: Layout = .rfc3339, zone: ImportTimeZone? = nil) throws(MappingRuleError) {
        switch layout {
        case .epochSeconds, .epochMillis, .epochMicros:
            guard zone == nil else {
                throw MappingRuleError("a time zone does not apply to Unix times (\(Self.name(of: layout))), which are instants")
            }
        case .rfc3339, .pattern: break
        }
        self.layout = layout
        self.zone = zone
    }

    /// The layout called `text`: one of `layoutNames`, or a pattern.
    public static func layout(named text: String) throws(MappingRuleError) -> Layout {
        if let named = layoutNames.first(where: { $0.name == text }) { return named.layout }
        return .pattern(try TimestampFormat(text))
    }

    /// The layout's name as a mapping writes it.
    public static func name(of layout: Layout) -> String {
        if case .pattern(let format) = layout { return format.pattern }
        return layoutNames.first { $0.layout == layout }?.name ?? "rfc3339"
    }

    /// The rule a value that cannot be read breaks, for problems.
    var rule: String {
        switch layout {
        case .rfc3339:
            return zone == nil
                ? "must be an RFC 3339 date-time with a time zone offset or Z (e.g. 2026-11-23T10:15:00Z)"
                : "must be an RFC 3339 date-time (e.g. 2026-11-23T10:15:00, read in \(zone!.name) when it has no offset)"
        case .epochSeconds: return "must be Unix time in seconds (digits, a fraction allowed)"
        case .epochMillis: return "must be Unix time in milliseconds (whole number)"
        case .epochMicros: return "must be Unix time in microseconds (whole number)"
        case .pattern(let format): return "must match the timestamp format \(format.pattern)"
        }
    }

    /// Whether a JSON number can be a timestamp (Unix times can).
    var acceptsNumbers: Bool {
        switch layout {
        case .epochSeconds, .epochMillis, .epochMicros: true
        case .rfc3339, .pattern: false
        }
    }

    /// Unix milliseconds of `value`, or nil when it is not a timestamp of this layout.
    func millis(_ value: RawValue) -> Int64? {
        switch value {
        case .string(let text): return millis(text)
        case .number(let number, let integer):
            switch layout {
            case .epochSeconds:
                guard number.isFinite, abs(number) < 1e14 else { return nil }
                return Int64((number * 1000).rounded(.down))
            case .epochMillis: return integer.map(Int64.init)
            case .epochMicros: return integer.map { Int64($0) / 1000 }
            case .rfc3339, .pattern: return nil
            }
        default: return nil
        }
    }

    func millis(_ text: String) -> Int64? {
        switch layout {
        case .rfc3339:
            if let instant = RFC3339.parseMillis(text) { return instant }
            guard let zone else { return nil }
            if let days = DateText.days(text) { return zone.utcMillis(local: Int64(days) * 86_400_000) }
            return RFC3339.parseMillis(text + "Z").map(zone.utcMillis(local:))
        case .pattern(let format):
            guard let local = format.parse(text) else { return nil }
            return zone?.utcMillis(local: local) ?? local
        case .epochSeconds:
            return Self.epoch(text, fractionDigits: 3).map { $0.whole * 1000 + $0.fraction }
        case .epochMillis:
            return Self.epoch(text, fractionDigits: 0).map(\.whole)
        case .epochMicros:
            return Self.epoch(text, fractionDigits: 0).map { $0.whole / 1000 }
        }
    }

    /// `[-]digits[.digits]` (a fraction only when `fractionDigits` > 0, kept to that many digits), at
    /// most 18 whole digits.
    private static func epoch(_ text: String, fractionDigits: Int) -> (whole: Int64, fraction: Int64)? {
        var bytes = Substring(text).utf8[...]
        var sign: Int64 = 1
        if bytes.first == UInt8(ascii: "-") {
            sign = -1
            bytes = bytes.dropFirst()
        }
        var whole: Int64 = 0
        var digits = 0
        while let byte = bytes.first, byte &- UInt8(ascii: "0") < 10 {
            guard digits < 18 else { return nil }
            whole = whole * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
            bytes = bytes.dropFirst()
        }
        guard digits > 0 else { return nil }
        var fraction: Int64 = 0
        if bytes.first == UInt8(ascii: "."), fractionDigits > 0 {
            bytes = bytes.dropFirst()
            var seen = 0
            while let byte = bytes.first, byte &- UInt8(ascii: "0") < 10 {
                if seen < fractionDigits { fraction = fraction * 10 + Int64(byte - UInt8(ascii: "0")) }
                seen += 1
                bytes = bytes.dropFirst()
            }
            guard seen > 0 else { return nil }
            for _ in min(seen, fractionDigits)..<fractionDigits { fraction *= 10 }
        }
        guard bytes.isEmpty else { return nil }
        return (sign * whole, sign * fraction)
    }
}

/// The time zone of timestamps written without an offset: `UTC`, a fixed offset (`+01:00`, `-0530`)
/// or an IANA name (`Europe/Berlin`, with its daylight-saving rules from the system's zone database).
public struct ImportTimeZone: Sendable, Hashable {
    /// As written.
    public let name: String
    private let fixedOffsetSeconds: Int?
    private let zone: TimeZone?

    public init(_ name: String) throws(MappingRuleError) {
        self.name = name
        if name == "UTC" || name == "Z" {
            fixedOffsetSeconds = 0
            zone = nil
        } else if let offset = Self.offset(name) {
            fixedOffsetSeconds = offset
            zone = nil
        } else if name.utf8.count <= 64, let zone = TimeZone(identifier: name) {
            fixedOffsetSeconds = nil
            self.zone = zone
        } else {
            throw MappingRuleError(
                "is not a time zone; give UTC, an offset such as +01:00, or an IANA name such as Europe/Berlin")
        }
    }

    /// `±HH:MM` or `±HHMM`, in seconds.
    private static func offset(_ text: String) -> Int? {
        var bytes = Array(text.utf8)
        guard let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        if bytes.count == 6, bytes[3] == UInt8(ascii: ":") { bytes.remove(at: 3) }
        guard bytes.count == 5, bytes[1...].allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
        let digits = bytes[1...].map { Int($0 - UInt8(ascii: "0")) }
        let hours = digits[0] * 10 + digits[1]
        let minutes = digits[2] * 10 + digits[3]
        guard hours <= 18, minutes <= 59 else { return nil }
        return (sign == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// The instant (Unix ms) of the local time `local` (ms since 1970-01-01T00:00 local). A local time
    /// a daylight-saving change skips or repeats is read with the offset in force after the change.
    func utcMillis(local: Int64) -> Int64 {
        if let fixedOffsetSeconds { return local - Int64(fixedOffsetSeconds) * 1000 }
        guard let zone else { return local }
        let asUTC = Date(timeIntervalSince1970: Double(local) / 1000)
        let first = zone.secondsFromGMT(for: asUTC)
        let guess = local - Int64(first) * 1000
        let second = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(guess) / 1000))
        return local - Int64(second) * 1000
    }
}
