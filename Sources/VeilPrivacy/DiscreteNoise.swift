/// The exact discrete samplers of Canonne, Kamath & Steinke 2020 (*The Discrete Gaussian for
/// Differential Privacy*, Algorithms 1–3). They use only integer arithmetic on the parameters (a
/// `PositiveRational`) and uniform integers from the generator, so every output has exactly the
/// stated distribution and carries no floating-point artefacts.
extension Noise {
    /// A sample of Bernoulli(exp(−γ)) for γ = `numerator / denominator` ≥ 0 (CKS Algorithm 1).
    /// Contract: `denominator > 0`.
    public static func bernoulliExp(
        numerator: UInt64, denominator: UInt64, using generator: inout some RandomNumberGenerator
    ) -> Bool {
        precondition(denominator > 0, "denominator must be > 0")
        let (whole, fraction) = numerator.quotientAndRemainder(dividingBy: denominator)
        return bernoulliExp(
            whole: UInt128(whole), fraction: UInt128(fraction), denominator: UInt128(denominator), using: &generator)
    }

    /// A sample of the discrete Laplace distribution on ℤ with `P(y) ∝ exp(−|y| / scale)`
    /// (CKS Algorithm 2 with scale `t/s`). Its variance is `2e^{−1/scale} / (1 − e^{−1/scale})²`.
    /// Adding it to an integer query of sensitivity Δ is (Δ / scale)-DP.
    ///
    /// Contract: the sample fits in `Int64` except with probability below exp(−2²²) (|y| ≥ 2⁶² with
    /// scale ≤ 2⁴⁰), which traps rather than wraps.
    public static func discreteLaplace(scale: PositiveRational, using generator: inout some RandomNumberGenerator) -> Int64 {
        let (t, s) = (UInt128(scale.numerator), UInt128(scale.denominator))
        while true {
            let u = uniform(below: t, using: &generator)
            guard bernoulliExp(whole: 0, fraction: u, denominator: t, using: &generator) else { continue }
            var v: UInt128 = 0
            while bernoulliExpMinusOne(using: &generator) { v += 1 }
            let y = (u + t * v) / s
            let negative = generator.next() & 1 == 1
            if negative && y == 0 { continue }
            precondition(y <= UInt128(Int64.max), "discrete Laplace sample out of Int64 range")
            return negative ? -Int64(y) : Int64(y)
        }
    }

    /// A sample of the discrete Gaussian on ℤ with `P(y) ∝ exp(−y² / 2σ²)` for σ² = `sigmaSquared`,
    /// by rejection from the discrete Laplace with scale `t = ⌊σ⌋ + 1` (CKS Algorithm 3). Its
    /// variance is below σ². Adding it to an integer query of sensitivity Δ is ½(Δ²/σ²)-zCDP
    /// (CKS Theorem 4), which `PrivacyMechanism.gaussian(noiseMultiplier: σ/Δ, count: 1)` accounts.
    ///
    /// The acceptance test `Bernoulli(exp(−(|y| − σ²/t)² / 2σ²))` is computed exactly as
    /// `γ = (|y|·d·t − n)² / (2·d·t²·n)` for σ² = n/d: the numerator is a 256-bit product and the
    /// denominator stays below 2¹²² thanks to the 2⁴⁰ bound on n and d. If γ ≥ 2¹²⁸ the sample is
    /// rejected outright; the exact algorithm accepts it with probability exp(−2¹²⁸).
    public static func discreteGaussian(sigmaSquared: PositiveRational, using generator: inout some RandomNumberGenerator) -> Int64 {
        let (n, d) = (UInt128(sigmaSquared.numerator), UInt128(sigmaSquared.denominator))
        let t = UInt128(integerSquareRoot(sigmaSquared.numerator / sigmaSquared.denominator)) + 1
        let laplaceScale = PositiveRational(UInt64(t))
        let denominator = 2 * d * t * t * n
        while true {
            let y = discreteLaplace(scale: laplaceScale, using: &generator)
            let scaled = UInt128(y.magnitude) * d * t
            let difference = scaled >= n ? scaled - n : n - scaled
            let square = difference.multipliedFullWidth(by: difference)
            guard square.high < denominator else { continue }
            let (whole, fraction) = denominator.dividingFullWidth(square)
            if bernoulliExp(whole: whole, fraction: fraction, denominator: denominator, using: &generator) { return y }
        }
    }

    /// Bernoulli(exp(−(whole + fraction/denominator))) with `fraction < denominator` (CKS
    /// Algorithm 1): `whole` independent Bernoulli(e⁻¹) trials must all succeed, then one
    /// Bernoulli(exp(−fraction/denominator)).
    static func bernoulliExp(
        whole: UInt128, fraction: UInt128, denominator: UInt128, using generator: inout some RandomNumberGenerator
    ) -> Bool {
        var remaining = whole
        while remaining > 0 {
            guard bernoulliExpMinusOne(using: &generator) else { return false }
            remaining -= 1
        }
        if fraction == 0 { return true }
        return bernoulliExpOfUnitFraction(numerator: fraction, denominator: denominator, using: &generator)
    }

    /// Bernoulli(e⁻¹).
    static func bernoulliExpMinusOne(using generator: inout some RandomNumberGenerator) -> Bool {
        bernoulliExpOfUnitFraction(numerator: 1, denominator: 1, using: &generator)
    }

    /// Bernoulli(exp(−γ)) for γ = numerator/denominator in [0, 1]: draw A_k ~ Bernoulli(γ/k) for
    /// k = 1, 2, … until one fails, and return whether the failing k is odd. Bernoulli(γ/k) is drawn
    /// as Bernoulli(γ) ∧ Bernoulli(1/k), which never forms the product `denominator · k`.
    private static func bernoulliExpOfUnitFraction(
        numerator: UInt128, denominator: UInt128, using generator: inout some RandomNumberGenerator
    ) -> Bool {
        // Trials whose outcome is certain (γ = 1, or k = 1) draw nothing from the generator.
        var k: UInt64 = 1
        while (numerator == denominator || uniform(below: denominator, using: &generator) < numerator)
            && (k == 1 || uniform(below: k, using: &generator) == 0)
        {
            k += 1
        }
        return k % 2 == 1
    }

    /// A uniform integer in `0..<bound`, exactly (no modulo bias). Bounds below 2⁶⁴ use Lemire's
    /// multiply-and-reject method (one 64-bit word almost always); larger ones draw 128 random bits,
    /// keep as many as `bound − 1` has, and reject values ≥ `bound` (fewer than 2 tries on average).
    /// Written out instead of the standard library's generic `next(upperBound:)`, which is not
    /// specialised across modules and was most of the discrete samplers' cost. Contract: `bound > 0`.
    static func uniform(below bound: UInt128, using generator: inout some RandomNumberGenerator) -> UInt128 {
        precondition(bound > 0, "bound must be > 0")
        if bound <= UInt128(UInt64.max) { return UInt128(uniform(below: UInt64(bound), using: &generator)) }
        let mask = UInt128.max >> (bound - 1).leadingZeroBitCount
        while true {
            let candidate = (UInt128(generator.next()) << 64 | UInt128(generator.next())) & mask
            if candidate < bound { return candidate }
        }
    }

    /// A uniform integer in `0..<bound` by Lemire's method (*Fast Random Integer Generation in an
    /// Interval*, 2019). Contract: `bound > 0`.
    static func uniform(below bound: UInt64, using generator: inout some RandomNumberGenerator) -> UInt64 {
        if bound == 1 { return 0 }
        var product = generator.next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = generator.next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// `⌊√x⌋`, exactly. Contract: `x < 2⁶²`.
    static func integerSquareRoot(_ x: UInt64) -> UInt64 {
        precondition(x < 1 << 62, "integerSquareRoot needs x < 2^62")
        var root = UInt64(Double(x).squareRoot())
        while root * root > x { root -= 1 }
        while (root + 1) * (root + 1) <= x { root += 1 }
        return root
    }
}
