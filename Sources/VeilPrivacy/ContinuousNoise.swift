#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Noise samplers for differential privacy. Each takes the generator from the caller: production
/// passes `ChaChaNoiseGenerator()` (keyed from libsodium's CSPRNG), tests pass
/// `ChaChaNoiseGenerator(seed:)`.
///
/// The continuous samplers return `Double`s and are subject to Mironov's (2012) floating-point
/// attack when their output is released directly; use them for model training (DP-SGD), and use
/// the exact discrete samplers (`discreteLaplace`, `discreteGaussian`) for integer-valued releases.
public enum Noise {
    /// A uniform `Double` in (0, 1]: `(k + 1) / 2⁵³` for a uniform 53-bit `k`, so its logarithm is
    /// always finite. (Every value is exact; `(k + ½) / 2⁵³` would round its top value up to 1.)
    public static func uniformPositiveUnit(using generator: inout some RandomNumberGenerator) -> Double {
        Double(generator.next() >> 11 + 1) * 0x1p-53
    }

    /// A standard normal sample by the Box–Muller transform on two 53-bit uniforms `u₁, u₂` in
    /// (0, 1]: `sqrt(−2 ln u₁) · cos(2π u₂)` (the sine partner is discarded to keep no state).
    ///
    /// Contract: exact up to floating-point rounding of `log`, `sqrt`, `cos`, and the 53-bit
    /// resolution of `u₁`, which truncates the tails at |z| ≈ 8.6 (probability below 1e-17).
    public static func standardNormal(using generator: inout some RandomNumberGenerator) -> Double {
        let radius = (-2 * log(uniformPositiveUnit(using: &generator))).squareRoot()
        return radius * cos(2 * Double.pi * uniformPositiveUnit(using: &generator))
    }

    /// A sample of N(0, σ²): `sigma · standardNormal`. Contract: `sigma ≥ 0` and finite.
    public static func gaussian(sigma: Double, using generator: inout some RandomNumberGenerator) -> Double {
        precondition(sigma >= 0 && sigma.isFinite, "sigma must be a finite number >= 0")
        return sigma * standardNormal(using: &generator)
    }

    /// A sample of the Laplace distribution with density `exp(−|x|/b) / 2b`, by inversion: one
    /// 64-bit word gives a random sign (top bit) and a 53-bit uniform `u = (k + 1)/2⁵³` in (0, 1],
    /// and the sample is `±b · (−ln u)`.
    ///
    /// Contract: `scale > 0` and finite; the tails are truncated at |x| ≈ 36.7·b (probability
    /// below 1e-16) by the resolution of `u`.
    public static func laplace(scale: Double, using generator: inout some RandomNumberGenerator) -> Double {
        precondition(scale > 0 && scale.isFinite, "scale must be a finite number > 0")
        let word = generator.next()
        let magnitude = -log(Double(word & (1 << 53 - 1) + 1) * 0x1p-53)
        return word >> 63 == 0 ? scale * magnitude : -scale * magnitude
    }
}
