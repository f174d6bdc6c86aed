import Testing
import VeilCrypto
@testable import VeilLearning

@Suite struct GaussianSourceTests {
    /// Cut into runs, the noise is the noise drawn in order: for several cuts (one run, even and uneven
    /// runs, more runs than a ChaCha block holds draws, runs of nothing), the runs' draws, put side by
    /// side, are bit for bit the draws of one source drawing them all, and the source is left where that
    /// one would be (its next draws agree too).
    @Test func runsDrawWhatOneSourceDrawsInOrder() throws {
        for (draws, parts) in [(2_689, 1), (2_689, 4), (2_689, 5), (1_000, 3), (3, 4), (0, 2), (700, 2)] {
            var reference = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 3))
            _ = reference.next(standardDeviation: 1)  // start inside the stream, not at its first word
            var split = reference
            let inOrder = (0..<draws).map { _ in reference.next(standardDeviation: 1.5).bitPattern }
            let cut = split.runs(draws: draws, parts: parts)
            let runs = try #require(cut)
            #expect(runs.count == parts)
            #expect(runs.map(\.range.count).reduce(0, +) == draws)
            var drawn = [UInt64]()
            for var run in runs {
                #expect(run.range.lowerBound == drawn.count)
                for _ in run.range { drawn.append(run.source.next(standardDeviation: 1.5).bitPattern) }
            }
            #expect(drawn == inOrder, "\(draws) draws in \(parts) runs")
            let after = (0..<10).map { _ in split.next(standardDeviation: 1).bitPattern }
            #expect(after == (0..<10).map { _ in reference.next(standardDeviation: 1).bitPattern })
        }
    }

    /// A generator that cannot seek gives no runs and is not moved.
    @Test func aSourceThatCannotSeekGivesNoRuns() {
        var noise = GaussianNoise(generator: Unseekable(base: ChaChaNoiseGenerator(seed: 5)))
        var untouched = noise
        let runs = noise.runs(draws: 100, parts: 2)
        #expect(runs == nil)
        #expect(noise.next(standardDeviation: 1) == untouched.next(standardDeviation: 1))
    }
}

/// ChaCha's stream read through a generator that does not offer `skip`.
private struct Unseekable: RandomNumberGenerator {
    var base: ChaChaNoiseGenerator

    mutating func next() -> UInt64 { base.next() }
}
