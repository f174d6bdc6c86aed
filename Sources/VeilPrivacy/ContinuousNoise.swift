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

    /// Words of the generator `standardNormal` (and so `gaussian`) reads per sample: always one.
    public static let wordsPerStandardNormal = 1

    /// A standard normal sample by inversion: `Φ⁻¹(u)` for one uniform `u = (k + ½)/2⁵²`, `k` the top 52
    /// bits of one word, with Φ⁻¹ by Wichura's algorithm AS241 (PPND16, Applied Statistics 37(3), 1988:
    /// rational approximations, relative error about 1e-16; the method of R's `rnorm`).
    ///
    /// Contract: exact up to the rounding of AS241 and of `log` and `sqrt` in its tails, and the 52-bit
    /// resolution of `u`, which truncates the tails at |z| ≈ 8.29 (probability below 1e-16). The grid of
    /// `u` is symmetric about ½ and AS241 is odd in `u − ½`, so the samples are exactly symmetric about 0.
    /// Reads exactly `wordsPerStandardNormal` words, so a seekable generator can be entered at any sample.
    public static func standardNormal(using generator: inout some RandomNumberGenerator) -> Double {
        inverseStandardNormalCDF((Double(generator.next() >> 12) + 0.5) * 0x1p-52)
    }

    /// Φ⁻¹(p) for `0 < p < 1` by AS241 (PPND16): one rational function of `(p − ½)²` in the centre
    /// (|p − ½| ≤ 0.425), two of `sqrt(−ln min(p, 1 − p))` in the tails.
    static func inverseStandardNormalCDF(_ p: Double) -> Double {
        let q = p - 0.5
        if abs(q) <= 0.425 {
            let r = 0.180625 - q * q
            let numerator = (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r
                + 6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r + 1.3731693765509461125e+4) * r
                + 1.9715909503065514427e+3) * r + 1.3314166789178437745e+2) * r + 3.3871328727963666080e+0) * q
            let denominator = ((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r
                + 3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r + 5.3941960214247511077e+3) * r
                + 6.8718700749205790830e+2) * r + 4.2313330701600911252e+1) * r + 1.0
            return numerator / denominator
        }
        var r = (-log(q < 0 ? p : 1 - p)).squareRoot()
        let numerator: Double
        let denominator: Double
        if r <= 5 {
            r -= 1.6
            numerator = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                + 2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r + 3.64784832476320460504e+0) * r
                + 5.76949722146069140550e+0) * r + 4.63033784615654529590e+0) * r + 1.42343711074968357734e+0
            denominator = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r + 6.89767334985100004550e-1) * r
                + 1.67638483018380384940e+0) * r + 2.05319162663775882187e+0) * r + 1.0
        } else {
            r -= 5
            numerator = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r + 2.96560571828504891230e-1) * r
                + 1.78482653991729133580e+0) * r + 5.46378491116411436990e+0) * r + 6.65790464350110377720e+0
            denominator = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r + 1.48753612908506148525e-2) * r
                + 1.36929880922735805310e-1) * r + 5.99832206555887937690e-1) * r + 1.0
        }
        return q < 0 ? -numerator / denominator : numerator / denominator
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
