import VeilCore

/// The numerical parameters of the PLD accountant. They change the ε reported (never below the
/// true ε, closer to it for a finer grid), so they are recorded with every result.
public struct PLDParameters: Sendable, Hashable {
    /// Grid spacing of privacy losses (dp_accounting's `value_discretization_interval`).
    public var valueDiscretizationInterval: Double
    /// Probability mass a composition may move off the ends of its grid (to infinite loss, or up to
    /// the lowest kept loss) at each step (dp_accounting's `tail_mass_truncation`).
    public var tailMassTruncation: Double
    /// ln of the Gaussian noise's probability cut off at each end before discretising; the cut mass is
    /// infinite loss (dp_accounting's `log_mass_truncation_bound`).
    public var logMassTruncationBound: Double

    /// dp_accounting's defaults: 1e-4, 1e-15, −50.
    public init(valueDiscretizationInterval: Double = 1e-4, tailMassTruncation: Double = 1e-15, logMassTruncationBound: Double = -50) {
        self.valueDiscretizationInterval = valueDiscretizationInterval
        self.tailMassTruncation = tailMassTruncation
        self.logMassTruncationBound = logMassTruncationBound
    }

    /// Checks the ranges: the interval in (0, 0.1], the tail truncation in [0, 1e-6], the log bound
    /// in [−700, −20]. The error names the JSON key (`AccountingMethod` is the JSON form).
    public func validate() throws(VeilError) {
        guard valueDiscretizationInterval > 0 && valueDiscretizationInterval <= 0.1 else {
            throw VeilError(.invalidInput, field: "value_discretization_interval", "must be in (0, 0.1]")
        }
        guard tailMassTruncation >= 0 && tailMassTruncation <= 1e-6 else {
            throw VeilError(.invalidInput, field: "tail_mass_truncation", "must be in [0, 1e-6]")
        }
        guard logMassTruncationBound >= -700 && logMassTruncationBound <= -20 else {
            throw VeilError(.invalidInput, field: "log_mass_truncation_bound", "must be in [-700, -20]")
        }
    }
}

/// A privacy-loss-distribution accountant: the discretised PLD of everything released so far,
/// composed by FFT, and its exact conversion to (ε, δ) (Koskela, Jälkö & Honkela 2020; Doroshenko et
/// al. 2022; Google's `dp_accounting.pld`, whose constructions and defaults this follows).
///
/// Contract:
/// - **Never below the truth.** Every mechanism's PLD is discretised pessimistically (Connect-the-Dots
///   for continuous noise, losses rounded up for discrete noise) and every truncation moves mass to
///   larger losses, so `epsilon(delta:)` is at least the true ε of the composition and `delta(epsilon:)`
///   at least the true δ.
/// - **Add and remove.** Each mechanism has a PLD for removing a user and one for adding one; both are
///   composed, and the guarantee is the worse of the two.
/// - **Pure ε-DP.** While everything composed is pure ε-DP (Laplace, discrete Laplace, `pure_epsilon`,
///   possibly thresholded), the sum of the ε's is also a bound (basic composition), and the smaller of
///   the two is reported: a lone ε-DP release never costs more than its ε.
/// - **`gaussian` by its RDP curve.** A `gaussian` record may be discrete Gaussian noise (the query
///   engine's), whose privacy curve can lie above the continuous Gaussian's (δ 20% higher at σ = Δ = 1,
///   ε = 3) and is established only through its Rényi-DP curve (Canonne, Kamath & Steinke 2020,
///   Theorem 4). So `gaussian` records are composed on an `RDPAccountant` beside the PLD, and the two
///   parts combine by basic composition: ε(δ) = min over a fixed set of splits δ₁ + δ₂ = δ of
///   ε_PLD(δ₁) + ε_RDP(δ₂). With only one part present, that part alone is converted. (Continuous
///   Gaussian noise recorded as `subsampled_gaussian` with q = 1 gets its exact PLD.)
/// - **Never looser than RDP.** Every release's RDP curve is composed as well, and the smaller ε (and
///   δ) of the two is reported; both bound the truth from above. RDP wins only where basic composition
///   of the two parts above costs more than composing everything in RDP.
/// - An invalid mechanism (one failing `PrivacyMechanism.validate()`) makes everything infinite, as in
///   `RDPAccountant`.
public struct PLDAccountant: Sendable {
    public let parameters: PLDParameters
    /// The PLD of everything composed so far except `gaussian` records.
    private var distribution: PrivacyLossDistribution
    /// Whether anything was composed into `distribution`.
    private var hasDistribution = false
    /// The RDP curve of the `gaussian` records (their bases, when thresholded).
    private var curve = RDPAccountant()
    /// Whether anything was composed into `curve`.
    private var hasCurve = false
    /// The RDP curve of everything composed, the bound reported when it is the smaller.
    private var everything = RDPAccountant()
    /// Σ ε of the pure ε-DP releases composed, or nil once a release that is not pure ε-DP was.
    public private(set) var pureEpsilon: Double? = 0
    /// The δ composed outside the PLD (`PrivacyMechanism.additiveDelta`, from partition selection).
    /// By basic composition it adds to the δ of the conversion.
    public private(set) var additiveDelta: Double = 0

    /// An accountant that has composed nothing. Contract: `parameters.validate()` passes.
    public init(parameters: PLDParameters = PLDParameters()) {
        precondition((try? parameters.validate()) != nil, "invalid PLD parameters")
        self.parameters = parameters
        distribution = .identity(interval: parameters.valueDiscretizationInterval)
    }

    /// Composes `mechanism`: its PLD, or its RDP curve for `gaussian`; a composition part by part. An
    /// invalid mechanism makes every ε infinite.
    public mutating func compose(_ mechanism: PrivacyMechanism) {
        if case let .composition(parts) = mechanism, (try? mechanism.validate()) != nil {
            for part in parts { compose(part) }
            return
        }
        everything.compose(mechanism)
        guard (try? mechanism.validate()) != nil else {
            distribution = distribution.composed(with: nonPrivate, tailMassTruncation: 0)
            hasDistribution = true
            pureEpsilon = nil
            return
        }
        if let pld = privacyLossDistribution(of: mechanism) {
            distribution = distribution.composed(with: pld, tailMassTruncation: parameters.tailMassTruncation)
            hasDistribution = true
        } else {
            curve.compose(Self.unthresholded(mechanism))
            hasCurve = true
        }
        pureEpsilon = pureEpsilon.flatMap { sum in mechanism.pureEpsilon.map { sum + $0 } }
        additiveDelta += mechanism.additiveDelta
    }

    /// Composes each of `mechanisms`.
    public mutating func compose(_ mechanisms: some Sequence<PrivacyMechanism>) {
        for mechanism in mechanisms { compose(mechanism) }
    }

    /// The smallest ε for which everything composed so far is (ε, `delta`)-DP. `delta < 0` (or NaN)
    /// gives `+inf`, and so does `delta = 0` unless only pure ε-DP was composed; `delta ≥ 1` gives 0.
    /// An additive δ is taken off `delta` first, and ε is `+inf` when nothing is left (as `RDPAccountant`).
    public func epsilon(delta: Double) -> Double {
        guard leavesDelta(delta) else { return .infinity }
        let available = delta - additiveDelta
        let composed: Double
        switch (hasDistribution, hasCurve) {
        case (_, false): composed = distribution.epsilon(delta: available)
        case (false, true): composed = curve.epsilon(delta: available).epsilon
        case (true, true):
            composed = Self.splits.map {
                distribution.epsilon(delta: available * $0) + curve.epsilon(delta: available * (1 - $0)).epsilon
            }.min()!
        }
        let bound = min(composed, everything.epsilon(delta: delta).epsilon)
        return pureEpsilon.map { min(bound, $0) } ?? bound
    }

    /// The shares of δ (or ε) given to the PLD part when both parts are present.
    static let splits: [Double] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97, 0.99, 0.997, 0.999]

    /// `epsilon(delta:)` from the composed PLD alone, without the pure ε-DP sum.
    func epsilonFromDistribution(delta: Double) -> Double {
        leavesDelta(delta) ? distribution.epsilon(delta: delta - additiveDelta) : .infinity
    }

    /// Whether `delta` leaves a δ ≥ 0 to convert at once the additive δ is taken off (0 only when
    /// there is no additive δ; NaN never).
    private func leavesDelta(_ delta: Double) -> Bool {
        delta > additiveDelta || (additiveDelta == 0 && delta == 0)
    }

    /// The smallest δ for which everything composed so far is (`epsilon`, δ)-DP. Contract: `epsilon ≥ 0`.
    public func delta(epsilon: Double) -> Double {
        precondition(epsilon >= 0, "epsilon must be non-negative")
        if let pureEpsilon, epsilon >= pureEpsilon { return min(1, additiveDelta) }
        let composed: Double
        switch (hasDistribution, hasCurve) {
        case (_, false): composed = distribution.delta(epsilon: epsilon)
        case (false, true): composed = curve.delta(epsilon: epsilon).delta
        case (true, true):
            composed = Self.splits.map {
                distribution.delta(epsilon: epsilon * $0) + curve.delta(epsilon: epsilon * (1 - $0)).delta
            }.min()!
        }
        return min(1, composed + additiveDelta, everything.delta(epsilon: epsilon).delta)
    }

    /// ε at `delta` for `mechanisms` composed on a fresh accountant.
    public static func epsilon(
        composing mechanisms: [PrivacyMechanism], delta: Double, parameters: PLDParameters = PLDParameters()
    ) -> Double {
        var accountant = PLDAccountant(parameters: parameters)
        accountant.compose(mechanisms)
        return accountant.epsilon(delta: delta)
    }

    // MARK: - The PLD of each mechanism

    /// Infinite loss with probability 1: no guarantee at all.
    private var nonPrivate: PrivacyLossDistribution {
        PrivacyLossDistribution(
            symmetric: PrivacyLossPMF(
                interval: parameters.valueDiscretizationInterval, lowestIndex: 0, masses: [0], infinityMass: 1))
    }

    /// `mechanism` without its partition-selection wrappers (their δ is counted apart).
    private static func unthresholded(_ mechanism: PrivacyMechanism) -> PrivacyMechanism {
        if case let .thresholded(base, _) = mechanism { return unthresholded(base) }
        return mechanism
    }

    /// The PLD of a valid mechanism, as dp_accounting's `PLDAccountant` builds it for the matching
    /// `DpEvent` (see `docs/privacy.md` for the mapping); nil for `gaussian`, which is accounted by
    /// its RDP curve.
    func privacyLossDistribution(of mechanism: PrivacyMechanism) -> PrivacyLossDistribution? {
        let interval = parameters.valueDiscretizationInterval
        let truncation = parameters.tailMassTruncation
        switch mechanism {
        case .gaussian:
            return nil
        case let .subsampledGaussian(q, sigma, steps):
            // With q = 1, `steps` Gaussian releases with multiplier σ are one with multiplier σ/√steps.
            if q == 1 { return gaussian(sigma: sigma / Double(steps).squareRoot(), samplingRate: 1) }
            return gaussian(sigma: sigma, samplingRate: q).selfComposed(times: steps, tailMassTruncation: truncation)
        case let .laplace(epsilon, count):
            let noise = AdditiveNoiseLoss(noise: PLDNoise.Laplace(scale: 1 / epsilon), samplingRate: 1, adjacency: .remove)
            let pmf = noise.connectTheDots(lowerLoss: -epsilon, upperLoss: epsilon, interval: interval)
            return PrivacyLossDistribution(symmetric: pmf).selfComposed(times: count, tailMassTruncation: truncation)
        case let .pureEpsilon(epsilon):
            // Randomised response dominates every ε-DP mechanism; its PLD is the discrete Laplace one
            // with parameter ε and sensitivity 1: +ε with probability e^ε/(1 + e^ε), else −ε.
            let noise = PLDNoise.DiscreteLaplace(parameter: epsilon, integerSensitivity: 1)
            return PrivacyLossDistribution(symmetric: noise.privacyLoss(interval: interval))
        case let .discreteLaplace(scale, sensitivity, count):
            let noise = PLDNoise.DiscreteLaplace(parameter: 1 / scale, integerSensitivity: sensitivity)
            return PrivacyLossDistribution(symmetric: noise.privacyLoss(interval: interval))
                .selfComposed(times: count, tailMassTruncation: truncation)
        case let .discreteGaussian(sigma, sensitivity, count):
            let noise = PLDNoise.DiscreteGaussian(sigma: sigma, sensitivity: sensitivity)
            return PrivacyLossDistribution(symmetric: noise.privacyLoss(interval: interval))
                .selfComposed(times: count, tailMassTruncation: truncation)
        case let .thresholded(base, _):
            return privacyLossDistribution(of: base)
        case let .composition(parts):
            var composed = PrivacyLossDistribution.identity(interval: interval)
            for part in parts {
                guard let distribution = privacyLossDistribution(of: part) else { return nil }
                composed = composed.composed(with: distribution, tailMassTruncation: truncation)
            }
            return composed
        }
    }

    /// One Gaussian release with multiplier σ, Poisson-subsampled at rate q, by Connect-the-Dots
    /// between the losses at the truncation points; symmetric when q = 1.
    private func gaussian(sigma: Double, samplingRate: Double) -> PrivacyLossDistribution {
        let noise = PLDNoise.Gaussian(sigma: sigma)
        func pmf(_ adjacency: Adjacency) -> PrivacyLossPMF {
            let loss = AdditiveNoiseLoss(noise: noise, samplingRate: samplingRate, adjacency: adjacency)
            let (lower, upper) = noise.truncation(adjacency, logMass: parameters.logMassTruncationBound)
            return loss.connectTheDots(
                lowerLoss: loss.privacyLoss(upper), upperLoss: loss.privacyLoss(lower),
                interval: parameters.valueDiscretizationInterval)
        }
        let remove = pmf(.remove)
        return samplingRate == 1 ? PrivacyLossDistribution(symmetric: remove) : PrivacyLossDistribution(remove: remove, add: pmf(.add))
    }
}
