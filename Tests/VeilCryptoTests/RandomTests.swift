import Testing
import VeilCrypto

@Suite struct RandomTests {
    @Test func seededNoiseGeneratorIsDeterministicAcrossBlocks() {
        var first = ChaChaNoiseGenerator(seed: 7)
        var second = ChaChaNoiseGenerator(seed: 7)
        var other = ChaChaNoiseGenerator(seed: 8)
        let a = (0..<2_000).map { _ in first.next() }  // crosses several 512-word blocks
        let b = (0..<2_000).map { _ in second.next() }
        let c = (0..<2_000).map { _ in other.next() }
        #expect(a == b)
        #expect(a != c)
        #expect(Set(a).count == a.count)
    }

    /// Skipping `n` words is reading them: from several starting points (fresh, inside a block, at a
    /// block's last word, after a whole block) and by several distances (none, within the block, onto a
    /// block boundary, across several blocks), the skipped generator's next words are the ones a reader
    /// of the whole stream gets.
    @Test func skippingWordsLeavesTheStreamWhereReadingThemWould() {
        let stream: [UInt64] = {
            var reader = ChaChaNoiseGenerator(seed: 11)
            return (0..<4_000).map { _ in reader.next() }
        }()
        for start in [0, 1, 300, 511, 512, 700] {
            for distance in [0, 1, 211, 212, 511, 512, 513, 1_024, 2_345] {
                var generator = ChaChaNoiseGenerator(seed: 11)
                for _ in 0..<start { _ = generator.next() }
                generator.skip(words: UInt64(distance))
                let next = (0..<600).map { _ in generator.next() }
                #expect(next == Array(stream[(start + distance)..<(start + distance + 600)]), "start \(start), distance \(distance)")
            }
        }
    }

    /// Each of the 64 bit positions should be set in about half the words. With n = 20,000 words the
    /// count is Binomial(n, 1/2): sd = sqrt(n)/2 ≈ 70.7; we allow 6 sd (false-failure odds ≈ 1e-9 per bit).
    @Test func noiseGeneratorBitsAreBalanced() {
        var generator = ChaChaNoiseGenerator(seed: 1)
        let n = 20_000
        var counts = [Int](repeating: 0, count: 64)
        for _ in 0..<n {
            let word = generator.next()
            for bit in 0..<64 where word >> UInt64(bit) & 1 == 1 { counts[bit] += 1 }
        }
        for count in counts { #expect(abs(Double(count) - Double(n) / 2) < 6 * 70.7) }
    }

    @Test func systemRandomProducesDistinctValues() {
        var random = SystemRandom()
        let values = (0..<1_000).map { _ in random.next() }
        #expect(Set(values).count == values.count)
        #expect(SystemRandom.bytes(32) != SystemRandom.bytes(32))
    }
}
