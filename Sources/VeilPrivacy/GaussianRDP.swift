#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rényi-DP curves of the Gaussian mechanism, plain and Poisson-subsampled.
///
/// Sensitivity is 1 and the noise standard deviation is `noiseMultiplier`; neighbouring datasets
/// differ by adding or removing one user. The formulas and their numerics follow Google's
/// `dp_accounting.rdp.rdp_privacy_accountant` (v0.6.0) line by line, so results agree with it to
/// rounding.
enum GaussianRDP {
    /// RDP of one Gaussian release at `order`: `α / (2σ²)` (Mironov 2017, Proposition 7).
    static func gaussian(noiseMultiplier sigma: Double, order alpha: Double) -> Double {
        alpha / (2 * sigma * sigma)
    }

    /// RDP of one step of the Poisson-subsampled Gaussian mechanism at `order` (Mironov, Talwar &
    /// Zhang 2019): `log(A_α) / (α − 1)`, with `A_α` summed in log space — exactly for integer α
    /// (Section 3.2) and by the convergent two-sided series for fractional α (Section 3.3).
    ///
    /// Contract: `0 ≤ q ≤ 1`, `σ > 0`, `α > 1`. Returns `+inf` when the fractional series does not
    /// converge in 1,000 terms, which excludes the order from any conversion (as dp_accounting does).
    static func subsampledGaussian(samplingRate q: Double, noiseMultiplier sigma: Double, order alpha: Double) -> Double {
        if q == 0 { return 0 }
        if alpha.isInfinite { return .infinity }
        if q == 1 { return gaussian(noiseMultiplier: sigma, order: alpha) }
        let logA = alpha == alpha.rounded() && alpha < Double(Int.max)
            ? logAInteger(q: q, sigma: sigma, alpha: Int(alpha))
            : logAFractional(q: q, sigma: sigma, alpha: alpha)
        return logA / (alpha - 1)
    }

    /// `log A_α` for integer α: `log Σ_{i=0}^{α} C(α,i) qⁱ (1−q)^{α−i} exp((i² − i) / (2σ²))`.
    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var logA = -Double.infinity
        let logQ = log(q)
        let log1mq = log1p(-q)
        let twoSigmaSquared = 2 * (sigma * sigma)
        for i in 0...alpha {
            let coefficient = LogSpace.logBinomial(Double(alpha), Double(i)) + Double(i) * logQ + Double(alpha - i) * log1mq
            logA = LogSpace.add(logA, coefficient + Double(i * i - i) / twoSigmaSquared)
        }
        return logA
    }

    /// The most terms the fractional-order series may take before the order is given up.
    static let maximumFractionalTerms = 1_000

    /// `log A_α` for fractional α: the integrals over `(−∞, z₀]` and `[z₀, ∞)` with
    /// `z₀ = σ² log(1/q − 1) + ½`, each expanded as a series; stops once both terms decrease and
    /// lie 30 nats below the running total.
    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        var (logA0, logA1) = (-Double.infinity, -Double.infinity)
        let sigmaSquared = sigma * sigma
        let z0 = sigmaSquared * log(1 / q - 1) + 0.5
        let logQ = log(q)
        let log1mq = log1p(-q)
        let logHalf = log(0.5)
        let erfcScale = 2.0.squareRoot() * sigma
        var (lastS0, lastS1) = (-Double.infinity, -Double.infinity)
        for term in 0..<maximumFractionalTerms {
            let i = Double(term)
            let coefficient = LogSpace.logBinomial(alpha, i)
            let j = alpha - i
            let logT0 = coefficient + i * logQ + j * log1mq
            let logT1 = coefficient + j * logQ + i * log1mq
            let logE0 = logHalf + LogSpace.logErfc((i - z0) / erfcScale)
            let logE1 = logHalf + LogSpace.logErfc((z0 - j) / erfcScale)
            let logS0 = logT0 + (i * i - i) / (2 * sigmaSquared) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * sigmaSquared) + logE1
            logA0 = LogSpace.add(logA0, logS0)
            logA1 = LogSpace.add(logA1, logS1)
            let total = LogSpace.add(logA0, logA1)
            if logS0 < lastS0 && logS1 < lastS1 && max(logS0, logS1) < total - 30 { return total }
            (lastS0, lastS1) = (logS0, logS1)
        }
        return .infinity
    }
}
