/// The body of a JSON string — the bytes between its quotes — decoded: escapes resolved, surrogate
/// pairs joined, the result checked as UTF-8. The one implementation both of Veil's JSON parsers use
/// (`JSONNode.parse` and the event parser).
public enum JSONStringBody {
    /// Decodes `bytes[start..<stop]`. Throws the rule broken, with the offset of the escape (or of
    /// `start` for invalid UTF-8); never any of the text.
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to stop: Int) throws(JSONSyntaxError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(stop - start)
        var index = start
        func fail(_ rule: String) -> JSONSyntaxError { JSONSyntaxError(rule: rule, offset: index) }
        while index < stop {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 1 < stop else { throw fail("bad escape in a string") }
            let code = bytes[index + 1]
            switch code {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(bytes, at: index + 2, stop) else { throw fail("bad escape in a string") }
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 12 <= stop, bytes[index + 6] == UInt8(ascii: "\\"), bytes[index + 7] == UInt8(ascii: "u"),
                        let low = hex4(bytes, at: index + 8, stop), (0xDC00...0xDFFF).contains(low)
                    else { throw fail("unpaired surrogate in a string") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate in a string")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail("bad escape in a string") }
                out.append(contentsOf: UTF8.encode(unicode)!)
                index += 4
            default:
                throw fail("bad escape in a string")
            }
            index += 2
        }
        guard let string = String(validating: out, as: UTF8.self) else {
            throw JSONSyntaxError(rule: "a string is not valid UTF-8", offset: start)
        }
        return string
    }

    /// Four hex digits at `index` (before `stop`) as a number, or nil.
    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, _ stop: Int) -> UInt32? {
        guard index + 4 <= stop else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
