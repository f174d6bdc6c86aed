import Testing
import VeilCore

/// Text equal only to the same bytes, and the byte order the stores sort ids in.
@Suite struct ExactTextTests {
    static let samples = [
        "", "a", "ab", "b", "B", "a\u{0}", "\u{E9}", "e\u{301}", "e", "z", "\u{65E5}\u{672C}", "\u{10FFFF}", "ev-10", "ev-2",
        String(repeating: "a", count: 24), String(repeating: "a", count: 23) + "b",
    ]

    /// `order`, `==` and `same` against the UTF-8 bytes, pairwise over the samples.
    @Test func theOrderIsTheOrderOfTheUTF8Bytes() {
        for a in Self.samples {
            for b in Self.samples {
                let (x, y) = (Array(a.utf8), Array(b.utf8))
                let expected = x.lexicographicallyPrecedes(y) ? -1 : x == y ? 0 : 1
                #expect(ExactText.order(a, b) == expected, "\(x) \(y)")
                #expect((ExactText(a) == ExactText(b)) == (x == y), "\(x) \(y)")
                #expect(ExactText.same(a, b) == (x == y), "\(x) \(y)")
            }
        }
    }

    @Test func canonicalTwinsAreTwoKeys() {
        let (composed, decomposed) = ("Jos\u{E9}", "Jose\u{301}")
        #expect(composed == decomposed)  // as `String`s
        let keys: [ExactText: Int] = [ExactText(composed): 1, ExactText(decomposed): 2]
        #expect(keys.count == 2 && keys[ExactText(composed)] == 1 && keys[ExactText(decomposed)] == 2)
    }
}
