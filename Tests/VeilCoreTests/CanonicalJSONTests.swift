import Foundation
import Testing
import VeilCore
import VeilTestSupport

/// `CanonicalJSON` against what it replaces: Foundation's `JSONEncoder` with sorted keys and slashes
/// unescaped, the form every sealed audit body and line has. Random values from a fixed seed; the
/// strings draw on every ASCII byte (the escapes), a few multi-byte scalars and look-alikes ("é" in
/// two forms, the Kelvin sign beside "K"), so the key order by UTF-8 bytes is exercised too.
@Suite struct CanonicalJSONTests {
    static func foundationText(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func writesWhatJSONEncoderWritesForRandomValues() throws {
        var random = SplitMix64(seed: 20_261_130)
        for round in 0..<3_000 {
            let value = Self.value(depth: 0, &random)
            let expected = try Self.foundationText(value)
            let written = try CanonicalJSON.text(of: value)
            #expect(written == expected, "round \(round)")
            if written != expected { return }
        }
    }

    @Test func writesDoublesAsJSONEncoderDoes() throws {
        var random = SplitMix64(seed: 7)
        var numbers: [Double] = [
            0, -0.0, 1, -1, 0.5, 1e-5, 1e-4, 0.1, 1e15, 1e16, 1e17, 123_456_789_012_345_680, 2.5e-308, .leastNonzeroMagnitude,
            .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .ulpOfOne, 4.0 / 3.0, 1e21, 1e22,
        ]
        for _ in 0..<20_000 {
            let number = Double(bitPattern: random.next())
            if number.isFinite { numbers.append(number) }
        }
        for number in numbers {
            #expect(try CanonicalJSON.text(of: .double(number)) == Self.foundationText(.double(number)), "\(number)")
        }
    }

    @Test func escapesEveryControlByteAndLeavesTheRestAsTheyAre() throws {
        let every = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self) + "é/€😀"
        let written = try CanonicalJSON.text(of: .string(every))
        #expect(written == (try Self.foundationText(.string(every))))
        #expect(written.contains(#"\u0000"#) && written.contains(#"\u001f"#) && written.contains(#"\b\t\n\u000b\f\r"#))
        #expect(!written.contains(#"\/"#) && written.contains("/") && written.contains(#"\\"#))
    }

    @Test func refusesNumbersJSONCannotCarry() {
        for number in [Double.nan, .infinity, -.infinity] {
            #expect(throws: CanonicalJSON.Unwritable.nonFinite) { try CanonicalJSON.text(of: ["a": [.double(number)]]) }
        }
    }

    /// `JSONEncoder` writes 511 nested containers and refuses 512; so does `CanonicalJSON`.
    @Test func nestsAsDeepAsJSONEncoderAndNoDeeper() throws {
        func nested(_ depth: Int) -> JSONValue {
            (0..<depth).reduce(JSONValue.int(1)) { inner, level in level % 2 == 0 ? .array([inner]) : .object(["k": inner]) }
        }
        let deepest = nested(CanonicalJSON.maximumDepth - 1)
        #expect(try CanonicalJSON.text(of: deepest) == Self.foundationText(deepest))
        let tooDeep = nested(CanonicalJSON.maximumDepth)
        #expect(throws: CanonicalJSON.Unwritable.tooDeep) { try CanonicalJSON.text(of: tooDeep) }
        #expect(throws: (any Error).self) { try Self.foundationText(tooDeep) }
    }

    static let alphabet: [String] = (0..<128).map { String(UnicodeScalar(UInt8($0))) } + [
        "é", "e\u{301}", "\u{212A}", "K", "€", "😀", "ß", "日本", "\u{7F}", "\u{2028}",
    ]

    static func string(_ random: inout SplitMix64) -> String {
        let length = Int(random.next() % 12)
        return (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
    }

    static func value(depth: Int, _ random: inout SplitMix64) -> JSONValue {
        let kinds: UInt64 = depth >= 4 ? 5 : 7
        switch random.next() % kinds {
        case 0: return .null
        case 1: return .bool(random.next() % 2 == 0)
        case 2: return .int(Int64(bitPattern: random.next()) >> (random.next() % 64))
        case 3:
            let number = random.next() % 2 == 0
                ? Double(Int64(bitPattern: random.next()) >> 40) / 1_000 : Double(bitPattern: random.next())
            return number.isFinite ? .double(number) : .double(0.25)
        case 4: return .string(string(&random))
        case 5: return .array((0..<Int(random.next() % 5)).map { _ in value(depth: depth + 1, &random) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int(random.next() % 6) { object[string(&random)] = value(depth: depth + 1, &random) }
            return .object(object)
        }
    }
}
