#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Numerically stable arithmetic on logarithms, as used by the RDP accountant.
///
/// Each helper mirrors the function of the same purpose in Google's `dp_accounting.rdp`
/// (`_log_add`, `_log_comb`, `_log_erfc`) so the accountant reproduces its numbers.
enum LogSpace {
    /// `log(exp(x) + exp(y))`, exact for `-inf` operands.
    static func add(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// `log |Γ(x)|` (thread-safe: `lgamma_r`, not `lgamma`, which writes a global).
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// `log |binomial(n, k)|` for real `n`, `k` through the log-gamma function.
    static func logBinomial(_ n: Double, _ k: Double) -> Double {
        logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
    }

    /// `log(erfc(x))`, accurate where `erfc(x)` underflows.
    ///
    /// Below `x = 20` this is `log(erfc(x))` from the C library (erfc(20) ≈ 5e-176 is a normal
    /// double). From 20 on it is the asymptotic series
    /// `log erfc(x) = -x² - log x - ½ log π + log(1 - 1/(2x²) + 3/(4x⁴) - 15/(8x⁶) + 105/(16x⁸))`,
    /// whose truncation error at x = 20 is below 1e-13 relative.
    static func logErfc(_ x: Double) -> Double {
        if x < 20 { return log(erfc(x)) }
        let inverseSquare = 1 / (x * x)
        let series = 1 + inverseSquare * (-0.5 + inverseSquare * (0.75 + inverseSquare * (-1.875 + inverseSquare * 6.5625)))
        return -x * x - log(x) - 0.5 * log(Double.pi) + log(series)
    }
}
