import VeilCore

/// The result of calibrating DP-SGD noise to a privacy target.
public struct NoiseCalibration: Sendable, Hashable, Codable {
    /// The noise multiplier found (noise standard deviation / clipping norm).
    public let noiseMultiplier: Double
    /// The ε that noise multiplier gives at the requested δ: at most the target.
    public let epsilon: Double
    /// The Rényi order at which that ε is attained.
    public let order: Double

    enum CodingKeys: String, CodingKey {
        case epsilon, order
        case noiseMultiplier = "noise_multiplier"
    }
}

extension RDPAccountant {
    /// The smallest noise multiplier σ (to bisection precision) for which `steps` steps of the
    /// Poisson-subsampled Gaussian mechanism at `samplingRate` are (`targetEpsilon`, `delta`)-DP,
    /// accounted with the default orders.
    ///
    /// Contract: the returned σ always satisfies ε(σ) ≤ `targetEpsilon` — the search only ever
    /// moves its upper end to a σ that meets the target — and ε(σ) ≥ `targetEpsilon − gap` with
    /// `gap = min(tolerance, targetEpsilon / 100)`, so small targets are met to 1% as well. The one
    /// exception: if the accountant's ε jumps across that band (an order dropping out when its
    /// fractional series fails to converge), σ is the bisection limit (relative width 1e-12). σ is searched in [2⁻¹⁰, 1,000,000]; if even
    /// σ = 2⁻¹⁰ meets the target, 2⁻¹⁰ is returned.
    ///
    /// - Throws: `VeilError.invalidInput` naming the parameter for ε ≤ 0, δ outside (0, 1), q outside
    ///   (0, 1] or steps < 1, and when σ = 1,000,000 still cannot meet the target.
    public static func calibrateNoiseMultiplier(
        targetEpsilon: Double, delta: Double, samplingRate: Double, steps: Int, tolerance: Double = 0.01
    ) throws(VeilError) -> NoiseCalibration {
        guard targetEpsilon.isFinite && targetEpsilon > 0 else {
            throw VeilError(.invalidInput, field: "epsilon", "must be a finite number > 0")
        }
        guard delta > 0 && delta < 1 else { throw VeilError(.invalidInput, field: "delta", "must be in (0, 1)") }
        guard tolerance > 0 else { throw VeilError(.invalidInput, field: "tolerance", "must be > 0") }
        try PrivacyMechanism.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: 1, steps: steps).validate()

        let accountant = RDPAccountant()
        func calibration(_ sigma: Double) -> NoiseCalibration {
            let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: sigma, steps: steps)
            let (epsilon, order) = accountant.epsilon(composing: [mechanism], delta: delta)
            return NoiseCalibration(noiseMultiplier: sigma, epsilon: epsilon, order: order)
        }

        let (smallest, largest) = (0.001, 1_000_000.0)
        // Bracket: `upper` meets the target, `lower` does not.
        var upper = calibration(1)
        var lower = 0.0
        while upper.epsilon > targetEpsilon {
            lower = upper.noiseMultiplier
            guard lower < largest else {
                throw VeilError(.invalidInput, field: "epsilon", "cannot be met with a noise multiplier up to 1,000,000")
            }
            upper = calibration(min(lower * 2, largest))
        }
        while lower == 0 {
            let candidate = calibration(upper.noiseMultiplier / 2)
            if candidate.epsilon > targetEpsilon {
                lower = candidate.noiseMultiplier
            } else {
                upper = candidate
                if upper.noiseMultiplier < smallest { return upper }
            }
        }
        // Bisect until the met target is within `gap` or the bracket cannot shrink further.
        let gap = min(tolerance, targetEpsilon / 100)
        while upper.epsilon < targetEpsilon - gap && upper.noiseMultiplier - lower > 1e-12 * upper.noiseMultiplier {
            let middle = calibration((lower + upper.noiseMultiplier) / 2)
            if middle.epsilon <= targetEpsilon { upper = middle } else { lower = middle.noiseMultiplier }
        }
        return upper
    }
}
