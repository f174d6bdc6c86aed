import Foundation

/// Escaping for text placed in HTML or SVG: every value a report or the console shows passes through
/// `escape`, so a model note of `<script>alert(1)</script>` is shown as those characters, never run.
public enum Markup {
    /// `text` with `&`, `<`, `>`, `"` and `'` replaced by character references: safe as element text
    /// and inside a quoted attribute value.
    public static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// A number for an SVG coordinate: at most two decimals, no exponent.
    static func coordinate(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    /// A number for a reader: `digits` significant digits, trailing zeros dropped; below 10⁻⁶ or from
    /// 10¹⁵ in exponent form (`1e-07`).
    public static func number(_ value: Double, digits: Int = 4) -> String {
        guard value.isFinite else { return value.isNaN ? "n/a" : (value > 0 ? "∞" : "−∞") }
        if value == 0 { return "0" }
        let magnitude = Int(log10(abs(value)).rounded(.down))
        if magnitude < -6 || magnitude >= 15 {
            let text = String(format: "%.\(digits - 1)e", value)
            guard let exponent = text.firstIndex(of: "e") else { return text }
            return trimmingZeros(String(text[..<exponent])) + text[exponent...]
        }
        return trimmingZeros(String(format: "%.\(max(0, digits - 1 - magnitude))f", value))
    }

    /// `1.2500` → `1.25`, `10.00` → `10`; text without a decimal point is returned as it is.
    private static func trimmingZeros(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var text = text
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
