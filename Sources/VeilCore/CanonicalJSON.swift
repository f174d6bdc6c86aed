/// Compact JSON text of a `JSONValue`, byte for byte what Foundation's `JSONEncoder` writes for it
/// with `[.sortedKeys, .withoutEscapingSlashes]` on Linux — the form every audit body and audit line
/// has been sealed in — written directly instead of through the `Encoder` machinery, which cost a
/// budget reservation more CPU than its decision (docs/deploy.md, "Reservations").
///
/// The form, at every level:
/// - object keys sorted by their UTF-8 bytes, no whitespace;
/// - strings escaped as `JSONEncoder` does: `"` and `\` with a backslash, `\b \f \n \r \t`, every other
///   byte below 0x20 as `\u00xx` (lowercase hex); `/`, DEL and all non-ASCII text as they are;
/// - integers in decimal; doubles in Swift's shortest round-trip form (`description`) with a final `.0`
///   dropped (`1.0` is `1`, `1e-05` stays);
/// - NaN and ±∞ cannot be written (`Unwritable.nonFinite`), nor containers nested 512 deep
///   (`Unwritable.tooDeep`: `JSONEncoder`'s limit).
///
/// `CanonicalJSONTests` compares it with `JSONEncoder` on seeded random values; a toolchain whose
/// encoder changed would fail there, not in an auditor's hands.
public enum CanonicalJSON {
    /// Why a value cannot be written.
    public enum Unwritable: Error {
        /// A double JSON cannot carry: NaN or ±∞.
        case nonFinite
        /// Containers nested `maximumDepth` deep.
        case tooDeep
    }

    /// Containers may nest at most one less than this deep (`JSONEncoder`'s limit).
    public static let maximumDepth = 512

    /// The compact text of `value`; see the type's contract.
    public static func text(of value: JSONValue) throws(Unwritable) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try write(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact text of `value`, inside `depth` containers, to `out`.
    public static func write(_ value: JSONValue, to out: inout [UInt8], depth: Int = 0) throws(Unwritable) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let integer): out.append(contentsOf: String(integer).utf8)
        case .double(let number): try write(number, to: &out)
        case .string(let string): write(string, to: &out)
        case .array(let elements):
            guard depth + 1 < maximumDepth else { throw .tooDeep }
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                try write(element, to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth + 1 < maximumDepth else { throw .tooDeep }
            out.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(key, to: &out)
                out.append(UInt8(ascii: ":"))
                try write(members[key]!, to: &out, depth: depth + 1)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A finite double: `description` without a final `.0`.
    static func write(_ number: Double, to out: inout [UInt8]) throws(Unwritable) {
        guard number.isFinite else { throw .nonFinite }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    /// A quoted string with `JSONEncoder`'s escapes; runs of bytes that need none are copied at once.
    public static func write(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var mark = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[mark..<index]))
                mark = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0x0F)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[mark...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
