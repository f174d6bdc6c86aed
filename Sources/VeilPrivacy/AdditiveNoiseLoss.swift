#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The noise of an additive mechanism — a distribution μ on ℝ or ℤ, symmetric about 0 — together
/// with its sensitivity Δ: the mechanism releases f(D) + noise, and one user moves f by at most Δ.
protocol AdditiveNoise: Sendable {
    /// The sensitivity Δ > 0 (an integer for noise on ℤ).
    var sensitivity: Double { get }
    /// `P(noise ≤ x)`.
    func cdf(_ x: Double) -> Double
    /// `ln P(noise ≤ x)`, accurate where the probability underflows.
    func logCDF(_ x: Double) -> Double
    /// The privacy loss of removing a user without subsampling, `ln(μ(x + Δ)/μ(x))`, non-increasing in x.
    func removalLoss(_ x: Double) -> Double
    /// The largest x with `removalLoss(x) ≥ loss` (+inf when every x qualifies, −inf when none does).
    func inverseRemovalLoss(_ loss: Double) -> Double
}

/// Which neighbour the PLD compares against.
enum Adjacency: Sendable {
    /// M(D) against M(D′), D′ without one user of D: upper μ_q(x) = (1−q)μ(x) + qμ(x+Δ), lower μ(x).
    case remove
    /// M(D) against M(D′), D′ with one more user: upper μ(x), lower (1−q)μ(x) + qμ(x−Δ).
    case add
}

/// The privacy loss of an additive-noise mechanism with Poisson subsampling at rate q, for one
/// adjacency, as a non-increasing function of the output x — the `AdditiveNoisePrivacyLoss` of
/// dp_accounting, whose formulas (including their log-space forms) this follows.
struct AdditiveNoiseLoss<Noise: AdditiveNoise>: Sendable {
    let noise: Noise
    let samplingRate: Double
    let adjacency: Adjacency

    private var delta: Double { noise.sensitivity }

    /// `ln(upper(x)/lower(x))`.
    func privacyLoss(_ x: Double) -> Double {
        switch adjacency {
        case .remove: subsampledRemovalLoss(x)
        case .add: -subsampledRemovalLoss(-x)
        }
    }

    /// `ln(1 − q + q·e^{L₀(x)})` with L₀ the removal loss without subsampling.
    private func subsampledRemovalLoss(_ x: Double) -> Double {
        let loss = noise.removalLoss(x)
        if samplingRate == 1 { return loss }
        return LogSpace.add(log(samplingRate) + loss, log1p(-samplingRate))
    }

    /// The largest x whose privacy loss is at least `loss`.
    func inversePrivacyLoss(_ loss: Double) -> Double {
        switch adjacency {
        case .remove:
            if samplingRate == 1 { return noise.inverseRemovalLoss(loss) }
            // Removal loss without subsampling: ln(1 + (e^loss − 1)/q); all x qualify at loss ≤ ln(1 − q).
            let floor = log1p(-samplingRate)
            if loss <= floor || Self.isClose(loss, floor) { return noise.inverseRemovalLoss(-.infinity) }
            return noise.inverseRemovalLoss(log1p(expm1(loss) / samplingRate))
        case .add:
            if samplingRate == 1 { return delta + noise.inverseRemovalLoss(loss) }
            // Add loss ℓ at x ⟺ removal loss −ℓ at −x; no x reaches ℓ ≥ −ln(1 − q).
            let ceiling = -log1p(-samplingRate)
            if Self.isClose(loss, ceiling) { return delta + noise.inverseRemovalLoss(.infinity) }
            if loss > ceiling { return -.infinity }
            return delta + noise.inverseRemovalLoss(-log1p(expm1(-loss) / samplingRate))
        }
    }

    /// `P_upper(X ≤ x)`.
    func upperCDF(_ x: Double) -> Double { distributionFunctions(at: x).upper }

    /// `P_upper(X ≤ x)` and `P_lower(X ≤ x)`, from two evaluations of the noise's CDF.
    func distributionFunctions(at x: Double) -> (upper: Double, lower: Double) {
        let here = noise.cdf(x)
        switch adjacency {
        case .remove:
            let shifted = noise.cdf(x + delta)
            return (samplingRate == 1 ? shifted : (1 - samplingRate) * here + samplingRate * shifted, here)
        case .add:
            let shifted = noise.cdf(x - delta)
            return (here, samplingRate == 1 ? shifted : (1 - samplingRate) * here + samplingRate * shifted)
        }
    }

    /// `ln P_lower(X ≤ x)`.
    func lowerLogCDF(_ x: Double) -> Double {
        switch adjacency {
        case .remove: return noise.logCDF(x)
        case .add:
            if samplingRate == 1 { return noise.logCDF(x - delta) }
            return LogSpace.add(log1p(-samplingRate) + noise.logCDF(x), log(samplingRate) + noise.logCDF(x - delta))
        }
    }

    /// The hockey-stick divergence at `epsilon`: `P_upper(X ≤ x*) − e^ε·P_lower(X ≤ x*)` with x* the
    /// inverse loss at ε (the loss is ≥ ε exactly left of x*), clipped to [0, 1]. `P_lower` is taken
    /// in log space where it is too small for a normal `Double`.
    func delta(epsilon: Double) -> Double {
        if samplingRate < 1 {
            switch adjacency {
            case .add where epsilon >= -log1p(-samplingRate): return 0
            case .remove where epsilon <= log1p(-samplingRate): return -expm1(epsilon)
            default: break
            }
        }
        let x = inversePrivacyLoss(epsilon)
        let (upper, lower) = distributionFunctions(at: x)
        let value = lower >= 1e-300 ? upper - exp(epsilon) * lower : upper - exp(epsilon + lowerLogCDF(x))
        return min(1, max(0, value.isNaN ? 0 : value))
    }

    /// Python's `math.isclose` with its default relative tolerance 1e-9, as dp_accounting uses it.
    private static func isClose(_ a: Double, _ b: Double) -> Bool {
        abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    }
}

// MARK: - Discretisations

extension AdditiveNoiseLoss {
    /// Connect-the-Dots (Doroshenko, Ghazi, Kamath, Kumar & Manurangsi 2022, Algorithm 1, with
    /// equally spaced losses): the PMF on the grid points `k·interval` for `lowerLoss ≤ k·interval ≤
    /// upperLoss` (rounded outwards) whose hockey-stick curve passes through the mechanism's true
    /// δ(ε) at every grid point and is linear in between — above the true, convex curve. It is the
    /// tightest PMF on the grid that dominates the mechanism (the paper's Theorem 3.4), so the ε it
    /// reports is never below the truth. The mass left above the top grid point, δ at it, is infinite loss.
    func connectTheDots(lowerLoss: Double, upperLoss: Double, interval: Double) -> PrivacyLossPMF {
        let lowest = Int((lowerLoss / interval).rounded(.down))
        let highest = Int((upperLoss / interval).rounded(.up))
        var deltas = (lowest...highest).map { delta(epsilon: Double($0) * interval) }
        // δ(ε) is non-increasing; rounding must not make the differences below change sign.
        for i in deltas.indices.dropFirst() { deltas[i] = min(deltas[i], deltas[i - 1]) }
        guard deltas.count > 1 else {
            return PrivacyLossPMF(interval: interval, lowestIndex: lowest, masses: [1 - deltas[0]], infinityMass: deltas[0])
        }
        let growth = expm1(interval)
        let factor = exp(interval)
        var masses = [Double](repeating: 0, count: deltas.count)
        masses[0] = 1 - deltas[0] + (deltas[1] - deltas[0]) / growth
        for i in 1..<(deltas.count - 1) {
            masses[i] = ((deltas[i + 1] - deltas[i]) - (deltas[i] - deltas[i - 1]) * factor) / growth
        }
        let last = deltas.count - 1
        masses[last] = (deltas[last] - deltas[last - 1]) / expm1(-interval)
        return PrivacyLossPMF(
            interval: interval, lowestIndex: lowest, masses: masses.map { max(0, $0) }, infinityMass: deltas[last])
    }

    /// Privacy buckets for noise on ℤ: each integer output x in `lowest...highest` (possibly empty)
    /// puts its upper probability on its loss rounded up to the grid; `tail` lists losses (possibly
    /// +inf) for the outputs beyond that range with their probabilities. Rounding every loss up makes
    /// the PMF dominate the mechanism.
    func privacyBuckets(lowest: Int, highest: Int, tail: [(loss: Double, mass: Double)], interval: Double) -> PrivacyLossPMF {
        var byIndex: [Int: Double] = [:]
        var infinity = 0.0
        for (loss, mass) in tail {
            if loss == .infinity { infinity += mass } else { byIndex[Int((loss / interval).rounded(.up)), default: 0] += mass }
        }
        var below = upperCDF(Double(lowest - 1))
        for x in stride(from: lowest, through: highest, by: 1) {
            let cumulative = upperCDF(Double(x))
            byIndex[Int((privacyLoss(Double(x)) / interval).rounded(.up)), default: 0] += cumulative - below
            below = cumulative
        }
        if byIndex.isEmpty { byIndex[0] = 0 }
        return PrivacyLossPMF(interval: interval, massesByIndex: byIndex, infinityMass: infinity)
    }
}
