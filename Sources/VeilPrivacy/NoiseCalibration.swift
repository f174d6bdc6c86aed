import VeilCore

/// The result of calibrating DP-SGD noise to a privacy target.
public struct NoiseCalibration: Sendable, Hashable, Codable {
    /// The noise multiplier found (noise standard deviation / clipping norm).
    public let noiseMultiplier: Double
    /// The ε that noise multiplier gives at the requested δ: at most the target.
    public let epsilon: Double
    /// The Rényi order at which that ε is attained (RDP only; nil for PLD).
    public let order: Double?
    /// The accountant that computed `epsilon`.
    public let accountant: AccountingMethod

    enum CodingKeys: String, CodingKey {
        case epsilon, order, accountant
        case noiseMultiplier = "noise_multiplier"
    }

    /// The smallest noise multiplier σ (to bisection precision) for which `steps` steps of the
    /// Poisson-subsampled Gaussian mechanism at `samplingRate` are (`targetEpsilon`, `delta`)-DP by
    /// the accountant `method`, with the contract of `RDPAccountant.calibrateNoiseMultiplier`: the
    /// returned σ always meets the target, and its ε is within `min(tolerance, targetEpsilon/100)` of
    /// it. For PLD the search starts from the RDP σ, which PLD (never looser to within its
    /// discretisation) almost always meets, so it only has to bisect downwards.
    ///
    /// With `alongside` (releases paid for in the same spend, such as a run's private evaluation), σ
    /// is the smallest for which the steps composed with them meet the target, and `epsilon` is the
    /// ε of that composition.
    ///
    /// - Throws: `VeilError.invalidInput` naming the parameter, as `RDPAccountant.calibrateNoiseMultiplier`,
    ///   and naming `epsilon` when `alongside` alone leaves no room for the steps.
    public static func calibrate(
        targetEpsilon: Double, delta: Double, samplingRate: Double, steps: Int, method: AccountingMethod,
        alongside: [PrivacyMechanism] = [], tolerance: Double = 0.01
    ) throws(VeilError) -> NoiseCalibration {
        let rdp = try RDPAccountant.calibrateNoiseMultiplier(
            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, steps: steps, tolerance: tolerance)
        if alongside.isEmpty, case .rdp = method { return rdp }
        guard alongside.isEmpty || PrivacyAccountant.epsilon(composing: alongside, delta: delta, method: method) < targetEpsilon else {
            throw VeilError(.invalidInput, field: "epsilon", "is used up by the releases made alongside the training steps")
        }
        return try search(targetEpsilon: targetEpsilon, tolerance: tolerance, start: rdp.noiseMultiplier) { sigma in
            // In the order the ledger composes the run's spend: the steps, then what goes with them.
            var accountant = PrivacyAccountant(method)
            accountant.compose(.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: sigma, steps: steps))
            accountant.compose(alongside)
            return NoiseCalibration(
                noiseMultiplier: sigma, epsilon: accountant.epsilon(delta: delta), order: accountant.optimalOrder(delta: delta),
                accountant: method)
        }
    }

    /// The bracketing bisection behind every calibration: from σ = `start`, doubles until the target
    /// is met and halves until it is not (or σ < 2⁻¹⁰, which is returned), then bisects, only ever
    /// moving the upper end to a σ that meets the target, until its ε is within
    /// `min(tolerance, targetEpsilon/100)` of the target or the bracket is 1e-12 relative.
    /// `evaluate` gives the calibration at a σ; ε must not increase with σ (up to rounding).
    static func search(
        targetEpsilon: Double, tolerance: Double, start: Double, evaluate: (Double) -> NoiseCalibration
    ) throws(VeilError) -> NoiseCalibration {
        let (smallest, largest) = (0.001, 1_000_000.0)
        // Bracket: `upper` meets the target, `lower` does not.
        var upper = evaluate(start)
        var lower = 0.0
        while upper.epsilon > targetEpsilon {
            lower = upper.noiseMultiplier
            guard lower < largest else {
                throw VeilError(.invalidInput, field: "epsilon", "cannot be met with a noise multiplier up to 1,000,000")
            }
            upper = evaluate(min(lower * 2, largest))
        }
        while lower == 0 {
            let candidate = evaluate(upper.noiseMultiplier / 2)
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
            let middle = evaluate((lower + upper.noiseMultiplier) / 2)
            if middle.epsilon <= targetEpsilon { upper = middle } else { lower = middle.noiseMultiplier }
        }
        return upper
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
        return try NoiseCalibration.search(targetEpsilon: targetEpsilon, tolerance: tolerance, start: 1) { sigma in
            let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: sigma, steps: steps)
            let (epsilon, order) = accountant.epsilon(composing: [mechanism], delta: delta)
            return NoiseCalibration(noiseMultiplier: sigma, epsilon: epsilon, order: order, accountant: .rdp)
        }
    }
}
