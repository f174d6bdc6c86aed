import VeilCore

/// What one DP-SGD run costs under each accountant, from its public parameters only — nothing is read
/// and nothing is spent. `veil privacy epsilon|noise --explain` print it, and so will
/// `veil train --explain`.
public struct DPSGDExplanation: Sendable, Hashable, Codable {
    /// ε of the run under one accountant.
    public struct Estimate: Sendable, Hashable, Codable {
        public let accountant: AccountingMethod
        public let epsilon: Double
        /// The Rényi order attaining ε (RDP only).
        public let order: Double?
    }

    /// Poisson sampling rate q.
    public let samplingRate: Double
    /// Number of steps T.
    public let steps: Int
    public let delta: Double
    /// The noise multiplier σ the run uses.
    public let noiseMultiplier: Double
    /// The target ε σ was calibrated to, when it was.
    public let targetEpsilon: Double?
    /// The accountant that chose σ for the target, when there is one.
    public let calibratedWith: AccountantKind?
    /// ε at σ under each accountant, PLD first.
    public let estimates: [Estimate]
    /// For a target: the smallest σ each accountant needs to meet it, PLD first.
    public let calibrations: [NoiseCalibration]?
    /// Releases paid for in the same spend as the steps (a run's private evaluation); the estimates
    /// and calibrations compose them with the steps. Nil when there are none.
    public let alongside: [PrivacyMechanism]?

    enum CodingKeys: String, CodingKey {
        case steps, delta, estimates, calibrations, alongside
        case samplingRate = "sampling_rate"
        case noiseMultiplier = "noise_multiplier"
        case targetEpsilon = "target_epsilon"
        case calibratedWith = "calibrated_with"
    }

    /// The accountants compared, in the order shown.
    static let accountants: [AccountantKind] = [.pld, .rdp]

    /// ε of `steps` steps at rate `samplingRate` with multiplier `noiseMultiplier` under each accountant
    /// (default parameters).
    ///
    /// - Throws: `VeilError.invalidInput` naming the parameter when q is outside (0, 1], σ is not a
    ///   finite number > 0, steps < 1 or δ is outside (0, 1).
    public static func explain(samplingRate: Double, steps: Int, delta: Double, noiseMultiplier: Double) throws(VeilError)
        -> DPSGDExplanation
    {
        try explanation(
            samplingRate: samplingRate, steps: steps, delta: delta, noiseMultiplier: noiseMultiplier, target: nil, alongside: [])
    }

    /// Calibrates σ to `targetEpsilon` with `accountant` (as training does: composed with `alongside`,
    /// the releases paid for in the same spend), then explains the run at that σ, with the σ each
    /// accountant would need beside it.
    ///
    /// - Throws: as `NoiseCalibration.calibrate`, and as `explain(samplingRate:steps:delta:noiseMultiplier:)`.
    public static func explain(
        samplingRate: Double, steps: Int, delta: Double, targetEpsilon: Double, accountant: AccountantKind,
        alongside: [PrivacyMechanism] = []
    ) throws(VeilError) -> DPSGDExplanation {
        var calibrations: [NoiseCalibration] = []
        for kind in accountants {
            calibrations.append(
                try NoiseCalibration.calibrate(
                    targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, steps: steps,
                    method: AccountingMethod(kind), alongside: alongside))
        }
        let chosen = calibrations[accountants.firstIndex(of: accountant)!]
        return try explanation(
            samplingRate: samplingRate, steps: steps, delta: delta, noiseMultiplier: chosen.noiseMultiplier,
            target: (targetEpsilon, accountant, calibrations), alongside: alongside)
    }

    private static func explanation(
        samplingRate: Double, steps: Int, delta: Double, noiseMultiplier: Double,
        target: (epsilon: Double, accountant: AccountantKind, calibrations: [NoiseCalibration])?,
        alongside: [PrivacyMechanism]
    ) throws(VeilError) -> DPSGDExplanation {
        let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier, steps: steps)
        try mechanism.validate()
        guard delta > 0 && delta < 1 else { throw VeilError(.invalidInput, field: "delta", "must be in (0, 1)") }
        let estimates = accountants.map { kind in
            var accountant = PrivacyAccountant(AccountingMethod(kind))
            accountant.compose(mechanism)
            accountant.compose(alongside)
            return Estimate(
                accountant: accountant.method, epsilon: accountant.epsilon(delta: delta),
                order: accountant.optimalOrder(delta: delta))
        }
        return DPSGDExplanation(
            samplingRate: samplingRate, steps: steps, delta: delta, noiseMultiplier: noiseMultiplier,
            targetEpsilon: target?.epsilon, calibratedWith: target?.accountant, estimates: estimates,
            calibrations: target?.calibrations, alongside: alongside.isEmpty ? nil : alongside)
    }
}
