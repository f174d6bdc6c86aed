import Foundation
import Testing
import VeilCrypto
@testable import VeilPrivacy

/// Distribution tests with fixed seeds: each is deterministic, and each threshold is one a correct
/// sampler passes except with probability ≤ 0.001 (KS, chi-square) or far less (variance).
///
/// Variance tolerance: for n i.i.d. samples the sample variance s² has standard deviation
/// `σ² sqrt((κ − 1)/n)` (κ = kurtosis). At n = 100,000 that is 0.45% of σ² for Gaussians (κ = 3)
/// and 0.71% for Laplace (κ = 6; the discrete versions are no heavier), so a 5% tolerance is more
/// than 7 standard errors.
struct ContinuousNoiseTests {
    static let ksCount = 20_000
    static let varianceCount = 100_000
    static let varianceTolerance = 0.05

    @Test(arguments: [0.5, 1.0, 7.0])
    func laplaceMatchesItsCDF(scale: Double) {
        var generator = ChaChaNoiseGenerator(seed: 11)
        let samples = (0..<Self.ksCount).map { _ in Noise.laplace(scale: scale, using: &generator) }
        let d = Statistics.kolmogorovSmirnov(samples) { x in
            x < 0 ? 0.5 * exp(x / scale) : 1 - 0.5 * exp(-x / scale)
        }
        #expect(d < Statistics.kolmogorovSmirnovCritical(count: Self.ksCount))
    }

    @Test(arguments: [0.3, 1.0, 4.0])
    func gaussianMatchesItsCDF(sigma: Double) {
        var generator = ChaChaNoiseGenerator(seed: 12)
        let samples = (0..<Self.ksCount).map { _ in Noise.gaussian(sigma: sigma, using: &generator) }
        let d = Statistics.kolmogorovSmirnov(samples) { x in 0.5 * erfc(-x / (sigma * 2.0.squareRoot())) }
        #expect(d < Statistics.kolmogorovSmirnovCritical(count: Self.ksCount))
    }

    @Test func variancesAreWithinTolerance() {
        var generator = ChaChaNoiseGenerator(seed: 13)
        let gaussian = (0..<Self.varianceCount).map { _ in Noise.gaussian(sigma: 2, using: &generator) }
        let laplace = (0..<Self.varianceCount).map { _ in Noise.laplace(scale: 3, using: &generator) }
        #expect(abs(Statistics.meanAndVariance(gaussian).variance / 4 - 1) < Self.varianceTolerance)
        #expect(abs(Statistics.meanAndVariance(laplace).variance / 18 - 1) < Self.varianceTolerance)
    }

    @Test func uniformExcludesZero() {
        struct Extremes: RandomNumberGenerator {
            var values: [UInt64] = [0, .max]
            mutating func next() -> UInt64 { values.removeFirst() }
        }
        var extremes = Extremes()
        #expect(Noise.uniformPositiveUnit(using: &extremes) == 0x1p-53)
        #expect(Noise.uniformPositiveUnit(using: &extremes) == 1)
    }

    /// Φ⁻¹ at published points against 20-digit values from mpmath (`findroot` of `log ncdf(z) − log p` at
    /// 60 digits), in the centre, on both sides of the centre's edge (|p − ½| = 0.425) and in both tails
    /// (r = sqrt(−ln p) below and above 5): relative error below 1e-14.
    @Test(arguments: [
        (0.3, -0.52440051270804078404), (0.9, 1.281551565544600467), (0.925, 1.4395314709384559153),
        (0.05, -1.6448536269514727149), (0.975, 1.9599639845400542355), (0.995, 2.575829303548900761),
        (1e-10, -6.3613409024040562047), (1e-12, -7.0344838253011319298), (1e-100, -21.273453560965324295),
        (0x1p-53, -8.2095361516013868556),
    ])
    func inverseNormalCDFMatchesPublishedQuantiles(p: Double, quantile: Double) {
        #expect(abs(Noise.inverseStandardNormalCDF(p) / quantile - 1) < 1e-14)
    }

    /// An independent check of Φ⁻¹ over its whole range: for seeded samples, `Φ(z) = erfc(−z/√2)/2` (glibc's
    /// `erfc`, not AS241) gives back the uniform they came from, relative to the smaller tail
    /// min(u, 1 − u), within 1e-12 — in the centre and far into both tails.
    @Test func inverseNormalCDFInvertsGlibcsNormalCDF() {
        var generator = ChaChaNoiseGenerator(seed: 14)
        var worst = 0.0
        for index in 0..<200_000 {
            // Uniforms on the sampler's grid, and every tenth one pushed into a far tail.
            var u = (Double(generator.next() >> 12) + 0.5) * 0x1p-52
            if index % 10 == 0 { u = Foundation.pow(u, 30) }
            let z = Noise.inverseStandardNormalCDF(u)
            let tail = min(u, 1 - u)
            let back = z < 0 ? 0.5 * erfc(-z / 2.0.squareRoot()) : 0.5 * erfc(z / 2.0.squareRoot())
            worst = max(worst, abs(back / tail - 1))
        }
        #expect(worst < 1e-12)
    }

    /// One word a sample; the first and last words give the tails' ends, ±Φ⁻¹(2⁻⁵³); mirrored words
    /// (k and 2⁵² − 1 − k in the top 52 bits) give samples of opposite sign, exactly.
    @Test func standardNormalReadsOneWordAndIsExactlySymmetric() {
        struct Words: RandomNumberGenerator {
            var values: [UInt64]
            var read = 0
            mutating func next() -> UInt64 {
                defer { read += 1 }
                return values[read]
            }
        }
        var ends = Words(values: [0, .max])
        let low = Noise.standardNormal(using: &ends)
        let high = Noise.standardNormal(using: &ends)
        #expect(ends.read == 2 * Noise.wordsPerStandardNormal)
        #expect(abs(low / -8.2095361516013868556 - 1) < 1e-14)
        #expect(high == -low)
        var generator = ChaChaNoiseGenerator(seed: 15)
        for _ in 0..<10_000 {
            let k = generator.next() >> 12
            var pair = Words(values: [k << 12, ((1 << 52) - 1 - k) << 12])
            #expect(Noise.standardNormal(using: &pair) == -Noise.standardNormal(using: &pair))
        }
    }

    @Test func seededGeneratorsReproduce() {
        var a = ChaChaNoiseGenerator(seed: 5)
        var b = ChaChaNoiseGenerator(seed: 5)
        #expect(Noise.standardNormal(using: &a) == Noise.standardNormal(using: &b))
        #expect(Noise.discreteGaussian(sigmaSquared: PositiveRational(9), using: &a)
            == Noise.discreteGaussian(sigmaSquared: PositiveRational(9), using: &b))
    }
}

struct DiscreteNoiseTests {
    /// Samples per goodness-of-fit test (kept small for debug-build speed; the variance tests use
    /// `ContinuousNoiseTests.varianceCount`).
    static let count = 20_000

    /// P(y) = tanh(1/(2τ)) · exp(−|y|/τ) for scale τ.
    static func discreteLaplacePMF(scale: Double) -> (Int64) -> Double {
        { y in tanh(0.5 / scale) * exp(-Double(y.magnitude) / scale) }
    }

    /// P(y) = exp(−y²/2σ²) / Σ_z exp(−z²/2σ²), normalised over |z| ≤ 40σ + 10.
    static func discreteGaussianPMF(sigmaSquared: Double) -> (Int64) -> Double {
        let bound = Int64(40 * sigmaSquared.squareRoot() + 10)
        let normaliser = (-bound...bound).reduce(0.0) { $0 + exp(-Double($1 * $1) / (2 * sigmaSquared)) }
        return { y in exp(-Double(y * y) / (2 * sigmaSquared)) / normaliser }
    }

    static func variance(of pmf: (Int64) -> Double, bound: Int64) -> Double {
        (-bound...bound).reduce(0.0) { $0 + Double($1 * $1) * pmf($1) }
    }

    @Test(arguments: [PositiveRational(3), PositiveRational(7, 4), PositiveRational(1, 3)])
    func discreteLaplaceMatchesItsPMF(scale: PositiveRational) {
        var generator = ChaChaNoiseGenerator(seed: 21)
        let samples = (0..<Self.count).map { _ in Noise.discreteLaplace(scale: scale, using: &generator) }
        let pmf = Self.discreteLaplacePMF(scale: scale.doubleValue)
        let (statistic, degrees) = Statistics.chiSquare(samples, pmf: pmf)
        #expect(degrees >= 2)
        #expect(statistic < Statistics.chiSquareCritical(degreesOfFreedom: degrees), "χ²=\(statistic), df=\(degrees)")
    }

    @Test func discreteVariancesAreWithinTolerance() {
        var generator = ChaChaNoiseGenerator(seed: 24)
        let n = ContinuousNoiseTests.varianceCount
        let laplace = (0..<n).map { _ in Double(Noise.discreteLaplace(scale: PositiveRational(3), using: &generator)) }
        let laplaceVariance = 2 * exp(-1.0 / 3) / pow(-expm1(-1.0 / 3), 2)
        #expect(abs(Statistics.meanAndVariance(laplace).variance / laplaceVariance - 1) < ContinuousNoiseTests.varianceTolerance)
        let gaussian = (0..<n).map { _ in Double(Noise.discreteGaussian(sigmaSquared: PositiveRational(10), using: &generator)) }
        let gaussianVariance = Self.variance(of: Self.discreteGaussianPMF(sigmaSquared: 10), bound: 200)
        #expect(abs(Statistics.meanAndVariance(gaussian).variance / gaussianVariance - 1) < ContinuousNoiseTests.varianceTolerance)
    }

    @Test(arguments: [PositiveRational(10), PositiveRational(7, 3), PositiveRational(1, 2), PositiveRational(2_500)])
    func discreteGaussianMatchesItsPMF(sigmaSquared: PositiveRational) {
        var generator = ChaChaNoiseGenerator(seed: 22)
        let samples = (0..<Self.count).map { _ in Noise.discreteGaussian(sigmaSquared: sigmaSquared, using: &generator) }
        let pmf = Self.discreteGaussianPMF(sigmaSquared: sigmaSquared.doubleValue)
        let (statistic, degrees) = Statistics.chiSquare(samples, pmf: pmf)
        #expect(degrees >= 2)
        #expect(statistic < Statistics.chiSquareCritical(degreesOfFreedom: degrees), "χ²=\(statistic), df=\(degrees)")
    }

    @Test(arguments: [(0 as UInt64, 1 as UInt64), (1, 2), (1, 1), (3, 2), (7, 3)])
    func bernoulliExpHasProbabilityExpMinusGamma(numerator: UInt64, denominator: UInt64) {
        var generator = ChaChaNoiseGenerator(seed: 23)
        let hits = (0..<Self.count).reduce(0) { count, _ in
            count + (Noise.bernoulliExp(numerator: numerator, denominator: denominator, using: &generator) ? 1 : 0)
        }
        let p = exp(-Double(numerator) / Double(denominator))
        // Five binomial standard errors.
        let tolerance = 5 * (p * (1 - p) / Double(Self.count)).squareRoot()
        #expect(abs(Double(hits) / Double(Self.count) - p) <= tolerance)
    }

    /// Uniform integers: chi-square over 6 values (64-bit path) and over the quarters of a bound
    /// above 2⁶⁴ (128-bit path); every draw must be below the bound.
    @Test(arguments: [UInt128(6), UInt128(3) << 64 + 12_345])
    func uniformIntegersAreUniform(bound: UInt128) {
        var generator = ChaChaNoiseGenerator(seed: 25)
        let buckets = bound == 6 ? 6 : 4
        var counts = [Double](repeating: 0, count: buckets)
        for _ in 0..<Self.count {
            let value = Noise.uniform(below: bound, using: &generator)
            #expect(value < bound)
            counts[Int(value * UInt128(buckets) / bound)] += 1
        }
        // Equal-width buckets over the range; the 128-bit bound is not a multiple of 4, but the
        // bucket probabilities differ from 1/4 by under 1e-18.
        let expected = Double(Self.count) / Double(buckets)
        let statistic = counts.reduce(0) { $0 + ($1 - expected) * ($1 - expected) / expected }
        // Critical values at significance 0.001: 20.52 for 5 degrees of freedom, 16.27 for 3.
        #expect(statistic < (buckets == 6 ? 20.52 : 16.27))
    }

    @Test func rationalRoundsUpAndReduces() throws {
        let sigmaSquared = try #require(PositiveRational(roundingUp: 2.0 / 3.0))
        #expect(sigmaSquared.doubleValue >= 2.0 / 3.0)
        #expect(sigmaSquared.doubleValue - 2.0 / 3.0 < 0x1p-20)
        #expect(PositiveRational(roundingUp: 1.5) == PositiveRational(3, 2))
        #expect(PositiveRational(6, 4).description == "3/2")
        #expect(PositiveRational(roundingUp: 0) == nil)
        #expect(PositiveRational(roundingUp: .infinity) == nil)
        #expect(PositiveRational(roundingUp: 1e9) == nil)
    }

    @Test func integerSquareRootIsExact() {
        for x: UInt64 in [0, 1, 2, 3, 4, 15, 16, 17, 1 << 40, (1 << 40) - 1, 999_999_999_999] {
            let root = Noise.integerSquareRoot(x)
            #expect(root * root <= x && (root + 1) * (root + 1) > x)
        }
    }
}
