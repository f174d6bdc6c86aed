import Foundation

/// Where the trainers get Gaussian noise: the one place to swap in `VeilPrivacy`'s sampler.
///
/// Contract: each call returns an independent draw from N(0, standardDeviation²); a
/// `standardDeviation` of 0 returns 0.
public protocol GaussianSource {
    mutating func next(standardDeviation: Double) -> Double
}

/// A minimal Gaussian sampler (Box–Muller) over any `RandomNumberGenerator`.
///
/// Pass a `ChaChaNoiseGenerator()` (CSPRNG-keyed) in production, `ChaChaNoiseGenerator(seed:)` in tests.
/// This is a plain floating-point sampler: it does not defend against the least-significant-bit attacks
/// of Mironov 2012. It is a stand-in until the `VeilPrivacy` sampler is wired in here.
public struct GaussianNoise<Generator: RandomNumberGenerator>: GaussianSource {
    public private(set) var generator: Generator
    /// Box–Muller yields draws in pairs; the second is kept for the next call.
    private var spare: Double?

    public init(generator: Generator) {
        self.generator = generator
    }

    public mutating func next(standardDeviation: Double) -> Double {
        if let spare {
            self.spare = nil
            return spare * standardDeviation
        }
        let radius = (-2 * log(generator.unitIntervalExcludingZero())).squareRoot()
        let angle = 2 * Double.pi * generator.unitInterval()
        spare = radius * sin(angle)
        return radius * cos(angle) * standardDeviation
    }
}

extension GaussianNoise: Sendable where Generator: Sendable {}
