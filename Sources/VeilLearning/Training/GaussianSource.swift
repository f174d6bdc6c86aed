import VeilCrypto
import VeilPrivacy

/// Where the trainers get Gaussian noise: the one place to swap in `VeilPrivacy`'s sampler.
///
/// Contract: each call returns an independent draw from N(0, standardDeviation²); a
/// `standardDeviation` of 0 returns 0.
public protocol GaussianSource {
    mutating func next(standardDeviation: Double) -> Double

    /// The source's next `draws` draws (each with a nonzero standard deviation) cut into `parts`
    /// consecutive runs, each with a source of its own, so that threads can draw the runs at once:
    /// drawing `source` `range.count` times gives exactly the draws `range` of `draws` calls to `next`,
    /// and `self` is left as after those calls. Nil — and `self` unchanged — when the source cannot
    /// enter its stream in the middle; draw in order then. The default is nil.
    mutating func runs(draws: Int, parts: Int) -> [(range: Range<Int>, source: Self)]?
}

extension GaussianSource {
    public mutating func runs(draws: Int, parts: Int) -> [(range: Range<Int>, source: Self)]? { nil }
}

/// Gaussian noise from `VeilPrivacy`'s sampler (`Noise.gaussian`, inversion of one 52-bit uniform) over any
/// `RandomNumberGenerator`.
///
/// Pass a `ChaChaNoiseGenerator()` (CSPRNG-keyed) in production, `ChaChaNoiseGenerator(seed:)` in tests.
/// DP-SGD releases a model, not the noisy values themselves, so the floating-point attacks of
/// Mironov 2012 on released Laplace values do not apply directly; integer releases use the exact
/// discrete samplers instead.
///
/// Over a `SeekableRandomNumberGenerator` (such as `ChaChaNoiseGenerator`) the noise splits into `runs`:
/// every draw reads exactly `Noise.wordsPerStandardNormal` words, so run `i` starts that many words
/// times its first draw into the stream.
public struct GaussianNoise<Generator: RandomNumberGenerator>: GaussianSource {
    public private(set) var generator: Generator

    public init(generator: Generator) {
        self.generator = generator
    }

    public mutating func next(standardDeviation: Double) -> Double {
        standardDeviation == 0 ? 0 : Noise.gaussian(sigma: standardDeviation, using: &generator)
    }

    public mutating func runs(draws: Int, parts: Int) -> [(range: Range<Int>, source: Self)]? {
        precondition(draws >= 0 && parts > 0, "draws must be >= 0 and parts > 0")
        // Asked of the value, not declared in an extension `where Generator: SeekableRandomNumberGenerator`:
        // the trainers call `runs` through the generic `GaussianSource`, which would always pick the
        // unconstrained witness. One cast a step.
        guard let seekable = generator as? any SeekableRandomNumberGenerator else { return nil }
        let words = UInt64(Noise.wordsPerStandardNormal)
        let perPart = draws / parts
        let runs = (0..<parts).map { part in
            let range = part * perPart..<(part == parts - 1 ? draws : (part + 1) * perPart)
            let start = Self.skipping(seekable, words: words * UInt64(range.lowerBound))
            return (range: range, source: GaussianNoise(generator: start as! Generator))
        }
        generator = Self.skipping(seekable, words: words * UInt64(draws)) as! Generator
        return runs
    }

    private static func skipping<Seekable: SeekableRandomNumberGenerator>(_ generator: Seekable, words: UInt64) -> Seekable {
        var copy = generator
        copy.skip(words: words)
        return copy
    }
}

extension GaussianNoise: Sendable where Generator: Sendable {}
