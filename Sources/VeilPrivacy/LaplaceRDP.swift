#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rényi-DP curves of pure ε-DP mechanisms.
enum LaplaceRDP {
    /// RDP of the Laplace mechanism with privacy parameter `ε = sensitivity / scale` at order α > 1
    /// (Mironov 2017, Proposition 6, tight for Laplace noise):
    /// `ε + log(1 + (α−1)(exp((1−2α)ε) − 1)/(2α−1)) / (α−1)`.
    /// For α < 1.1 it sums the Taylor series of `log(1 + c·x)/x` as dp_accounting does, for stability.
    static func laplace(epsilon: Double, order alpha: Double) -> Double {
        let c = expm1(epsilon * (1 - 2 * alpha)) / (2 * alpha - 1)
        if alpha < 1.1 {
            let v = -c * (alpha - 1)
            // Sum the series smallest terms first, like math.fsum would, to keep the low bits.
            var sum = 0.0
            for k in stride(from: 99, through: 1, by: -1) { sum += pow(v, Double(k - 1)) / Double(k) }
            return epsilon + c * sum
        }
        return epsilon + log1p((alpha - 1) * c) / (alpha - 1)
    }

    /// An RDP bound at order α > 1 for *any* ε-DP mechanism (for example the discrete Laplace
    /// mechanism with `ε = sensitivity / scale`): the Rényi divergence of randomised response,
    /// `log((exp(αε) + exp((1−α)ε)) / (1 + exp(ε))) / (α−1)`
    /// `= log((sinh(αε) − sinh((α−1)ε)) / sinh(ε)) / (α−1)`.
    /// Among all pairs of distributions whose likelihood ratio stays within `e^{±ε}`, randomised
    /// response maximises the Rényi divergence, so this is the tight conversion from pure DP
    /// (Steinke, *Tight RDP & zCDP Bounds from Pure DP*, differentialprivacy.org). It is capped by
    /// the classical bounds `ε` (a Rényi divergence never exceeds the max-divergence) and `αε²/2`
    /// (Bun & Steinke 2016, Proposition 3.3), so rounding can never make it looser than them.
    static func pureEpsilon(epsilon: Double, order alpha: Double) -> Double {
        if epsilon == 0 { return 0 }
        let numerator = LogSpace.add(alpha * epsilon, (1 - alpha) * epsilon)
        let denominator = epsilon + log1p(exp(-epsilon))
        let randomisedResponse = (numerator - denominator) / (alpha - 1)
        return min(randomisedResponse, epsilon, alpha * epsilon * epsilon / 2)
    }
}
