import VeilPrivacy

/// Where the trainers get Gaussian noise: the one place to swap in `VeilPrivacy`'s sampler.
///
/// Contract: each call returns an independent draw from N(0, standardDeviation²); a
/// `standardDeviation` of 0 returns 0.
public protocol GaussianSource {
    mutating func next(standardDeviation: Double) -> Double
}

/// Gaussian noise from `VeilPrivacy`'s sampler (`Noise.gaussian`, Box–Muller on 53-bit uniforms) over any
/// `RandomNumberGenerator`.
///
/// Pass a `ChaChaNoiseGenerator()` (CSPRNG-keyed) in production, `ChaChaNoiseGenerator(seed:)` in tests.
/// DP-SGD releases a model, not the noisy values themselves, so the floating-point attacks of
/// Mironov 2012 on released Laplace values do not apply directly; integer releases use the exact
/// discrete samplers instead.
public struct GaussianNoise<Generator: RandomNumberGenerator>: GaussianSource {
    public private(set) var generator: Generator

    public init(generator: Generator) {
        self.generator = generator
    }

    public mutating func next(standardDeviation: Double) -> Double {
        standardDeviation == 0 ? 0 : Noise.gaussian(sigma: standardDeviation, using: &generator)
    }
}

extension GaussianNoise: Sendable where Generator: Sendable {}
