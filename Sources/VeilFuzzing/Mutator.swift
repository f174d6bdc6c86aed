import VeilCrypto

/// Structured mutations of a valid input, the kinds hostile clients send: deep nesting, huge
/// numbers, invalid UTF-8, truncation, NULs, duplicated keys, long strings, type confusion, byte
/// flips. Deterministic for a given generator state.
public struct Mutator {
    /// One kind of damage, named for the report.
    public enum Kind: String, CaseIterable, Sendable {
        case deepNesting = "deep_nesting"
        case hugeNumber = "huge_number"
        case invalidUTF8 = "invalid_utf8"
        case truncation
        case nul
        case duplicateKey = "duplicate_key"
        case longString = "long_string"
        case typeConfusion = "type_confusion"
        case byteFlip = "byte_flip"
        case unknownKey = "unknown_key"
        case controlAndEscapes = "control_and_escapes"
    }

    var random: ChaChaNoiseGenerator

    public init(seed: UInt64) { random = ChaChaNoiseGenerator(seed: seed) }

    /// A number in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &random) < p }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    /// `bytes` damaged once by `kind` (a random one when nil). `marker` is text the input must never
    /// see echoed (a user ID): some mutations plant it as a key.
    public mutating func mutate(_ bytes: [UInt8], kind: Kind? = nil, marker: String) -> (bytes: [UInt8], kind: Kind) {
        let kind = kind ?? pick(Kind.allCases)
        var out = bytes
        let at = out.isEmpty ? 0 : int(0...(out.count - 1))
        switch kind {
        case .deepNesting:
            let depth = pick([33, 100, 1_000, 50_000, 200_000])
            let open: UInt8 = chance(0.5) ? UInt8(ascii: "[") : UInt8(ascii: "{")
            var nest = [UInt8](repeating: open, count: depth)
            if open == UInt8(ascii: "{") {
                nest = Array(String(repeating: #"{"a":"#, count: depth).utf8)
            }
            let close = open == UInt8(ascii: "[") ? [UInt8](repeating: UInt8(ascii: "]"), count: depth) : [UInt8](repeating: UInt8(ascii: "}"), count: depth)
            out = replaceValue(in: out, at: at, with: nest + (open == UInt8(ascii: "{") ? Array("1".utf8) : []) + close)
        case .hugeNumber:
            let number = pick(["1e400", "-1e400", "1.8e308", "123456789012345678901234567890", "-0", "4e-400", "9223372036854775808", "1" + String(repeating: "0", count: 5_000)])
            out = replaceValue(in: out, at: at, with: Array(number.utf8))
        case .invalidUTF8:
            out.insert(contentsOf: pick([[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF]]), at: stringInterior(out, near: at))
        case .truncation:
            out = Array(out.prefix(at))
        case .nul:
            out.insert(contentsOf: pick([[0x00], Array(#"\u0000"#.utf8)]), at: stringInterior(out, near: at))
        case .duplicateKey:
            if let member = firstMember(out) { out.insert(contentsOf: Array(member) + [UInt8(ascii: ",")], at: member.startIndex) }
        case .longString:
            let long = "\"" + String(repeating: pick(["x", "é", "😀", marker]), count: pick([129, 257, 1_025, 100_000])) + "\""
            out = replaceValue(in: out, at: at, with: Array(long.utf8))
        case .typeConfusion:
            out = replaceValue(in: out, at: at, with: Array(pick(["null", "true", "[]", "{}", "0", "\"\"", "[\"\(marker)\"]", "{\"k\":1}", "-1"]).utf8))
        case .byteFlip:
            if !out.isEmpty { out[at] ^= UInt8(truncatingIfNeeded: 1 << int(0...7)) }
        case .unknownKey:
            if let brace = out.firstIndex(of: UInt8(ascii: "{")) {
                out.insert(contentsOf: Array("\"\(marker)\":1,".utf8), at: brace + 1)
            }
        case .controlAndEscapes:
            out.insert(contentsOf: Array(pick(["\\ud800", "\\uDFFF", "\\x41", "\u{1}", "\r", "\\u00", "\u{FEFF}"]).utf8), at: stringInterior(out, near: at))
        }
        return (out, kind)
    }

    /// Replaces the JSON value that follows the first `:` at or after `index` (or appends).
    private func replaceValue(in bytes: [UInt8], at index: Int, with value: [UInt8]) -> [UInt8] {
        guard let colon = bytes[index...].firstIndex(of: UInt8(ascii: ":")) ?? bytes.firstIndex(of: UInt8(ascii: ":")) else {
            return bytes + value
        }
        var end = colon + 1
        var inString = false
        while end < bytes.count {
            let byte = bytes[end]
            if inString {
                if byte == UInt8(ascii: "\\") { end += 2; continue }
                if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == 0x0A {
                break
            }
            end += 1
        }
        return Array(bytes[...colon]) + value + Array(bytes[min(end, bytes.count)...])
    }

    /// A position inside a string value near `index` (after an opening quote), or `index`.
    private func stringInterior(_ bytes: [UInt8], near index: Int) -> Int {
        guard let quote = bytes[index...].firstIndex(of: UInt8(ascii: "\"")) else { return index }
        return quote + 1
    }

    /// The bytes of the first `"key":value` member of the first object.
    private func firstMember(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard let brace = bytes.firstIndex(of: UInt8(ascii: "{")), let comma = bytes[brace...].firstIndex(of: UInt8(ascii: ",")) else {
            return nil
        }
        return bytes[(brace + 1)..<comma]
    }
}
