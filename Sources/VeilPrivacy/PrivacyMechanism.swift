import VeilCore

/// One release of information about users, described by the parameters an accountant needs.
///
/// A budget ledger and an audit log store these, and an auditor recomputes ε from them, so the JSON
/// form is part of Veil's audit format and must stay stable. It is one object whose `mechanism` key
/// names the case, with snake_case parameter keys:
///
/// ```json
/// {"mechanism": "gaussian", "noise_multiplier": 1.1, "count": 3}
/// {"mechanism": "subsampled_gaussian", "sampling_rate": 0.01, "noise_multiplier": 1.1, "steps": 1000}
/// {"mechanism": "laplace", "epsilon": 0.5, "count": 2}
/// {"mechanism": "pure_epsilon", "epsilon": 0.1}
/// {"mechanism": "discrete_laplace", "scale": 20, "sensitivity": 4, "count": 1}
/// {"mechanism": "discrete_gaussian", "sigma": 12.5, "sensitivity": 3, "count": 2}
/// {"mechanism": "thresholded", "base": {"mechanism": "pure_epsilon", "epsilon": 1}, "delta": 1e-9}
/// {"mechanism": "composition", "parts": [{"mechanism": "subsampled_gaussian", ...}, {"mechanism": "discrete_gaussian", ...}]}
/// ```
///
/// Sensitivity is folded into the parameters (noise multiplier = noise standard deviation /
/// L2 sensitivity; ε = sensitivity / Laplace scale) and neighbouring datasets differ by one user's
/// whole history (add or remove). Decoding rejects unknown mechanisms and values that break the
/// rules of `validate()`.
public indirect enum PrivacyMechanism: Sendable, Hashable {
    /// `count` releases of the Gaussian mechanism with noise multiplier σ (> 0). Also covers a
    /// one-dimensional discrete Gaussian with σ² ≥ (sensitivity·σ)², which is at least as private
    /// (Canonne, Kamath & Steinke 2020, Theorem 4: ½(Δ/σ)²-concentrated DP).
    case gaussian(noiseMultiplier: Double, count: Int)
    /// `steps` steps of DP-SGD: each user is included independently with probability
    /// `samplingRate` (Poisson sampling, in (0, 1]) and Gaussian noise with multiplier σ is added.
    case subsampledGaussian(samplingRate: Double, noiseMultiplier: Double, steps: Int)
    /// `count` releases of the Laplace mechanism, each ε-DP (ε > 0).
    case laplace(epsilon: Double, count: Int)
    /// One release of any ε-DP mechanism, for example the discrete Laplace mechanism with
    /// ε = sensitivity / scale. Accounted with the randomised-response bound, the tight RDP bound
    /// for ε-DP mechanisms (see `LaplaceRDP.pureEpsilon`).
    case pureEpsilon(epsilon: Double)
    /// `count` releases of the discrete Laplace mechanism, `P(y) ∝ exp(−|y|/scale)` on ℤ, on a query
    /// of integer sensitivity Δ: each is (Δ/scale)-DP. The PLD accountant uses its exact privacy loss
    /// (tighter than `pureEpsilon` when Δ > 1); RDP uses the pure ε-DP bound.
    case discreteLaplace(scale: Double, sensitivity: Int, count: Int)
    /// `count` releases of the discrete Gaussian mechanism, `P(y) ∝ exp(−y²/2σ²)` on ℤ, on a query of
    /// integer sensitivity Δ. The PLD accountant uses its exact privacy loss (as dp_accounting, over
    /// |y| ≤ ⌈11.6σ⌉); RDP uses the Gaussian curve of multiplier σ/Δ (Canonne, Kamath & Steinke 2020,
    /// Theorem 4). σ is at most 2¹⁸ (the PLD tabulates the distribution over ±⌈11.6σ⌉).
    case discreteGaussian(sigma: Double, sensitivity: Int, count: Int)
    /// `base`, plus DP partition selection by thresholding noisy user counts (Desfontaines, Voss,
    /// Gipson & Mandayam 2022; Google's DP library): keys that come from the data are released only
    /// when their noisy count passes a threshold. The noisy counts are part of `base`; `delta` (in
    /// (0, 1)) bounds the chance that a key held by one user alone is released. Accounted as
    /// `base`'s RDP curve plus an additive δ, which `RDPAccountant` subtracts from the target δ
    /// before converting.
    case thresholded(base: PrivacyMechanism, delta: Double)
    /// Several releases made together and paid for as one spend — a training run's DP-SGD steps and
    /// its private evaluation — composed exactly as if each part had been spent on its own (1 to 16
    /// parts, none of them a composition).
    case composition(parts: [PrivacyMechanism])

    /// The stable name of the case, the value of the `mechanism` key.
    public var name: String {
        switch self {
        case .gaussian: "gaussian"
        case .subsampledGaussian: "subsampled_gaussian"
        case .laplace: "laplace"
        case .pureEpsilon: "pure_epsilon"
        case .discreteLaplace: "discrete_laplace"
        case .discreteGaussian: "discrete_gaussian"
        case .thresholded: "thresholded"
        case .composition: "composition"
        }
    }

    /// The ε of the whole release when it is pure ε-DP (Laplace, discrete Laplace, `pure_epsilon`,
    /// and those thresholded), nil otherwise.
    public var pureEpsilon: Double? {
        switch self {
        case .gaussian, .subsampledGaussian, .discreteGaussian: nil
        case let .laplace(epsilon, count): epsilon * Double(count)
        case let .pureEpsilon(epsilon): epsilon
        case let .discreteLaplace(scale, sensitivity, count): Double(sensitivity) / scale * Double(count)
        case let .thresholded(base, _): base.pureEpsilon
        case let .composition(parts):
            parts.reduce(Double?(0)) { sum, part in sum.flatMap { total in part.pureEpsilon.map { total + $0 } } }
        }
    }

    /// The δ this release adds outside its RDP curve (partition selection); 0 for the others.
    public var additiveDelta: Double {
        switch self {
        case let .thresholded(base, delta): base.additiveDelta + delta
        case let .composition(parts): parts.reduce(0) { $0 + $1.additiveDelta }
        default: 0
        }
    }

    /// Checks the parameter rules: noise multipliers, scales and ε finite and > 0, sampling rate in
    /// (0, 1], counts, steps and sensitivities ≥ 1, a discrete Gaussian σ in (0, 2¹⁸], a threshold δ in
    /// (0, 1) over a valid base, 1 to 16 valid parts none of them a composition. The error names the JSON key
    /// and the rule.
    public func validate() throws(VeilError) {
        switch self {
        case let .gaussian(sigma, count):
            try Self.require(sigma.isFinite && sigma > 0, "noise_multiplier", "must be a finite number > 0")
            try Self.require(count >= 1, "count", "must be at least 1")
        case let .subsampledGaussian(q, sigma, steps):
            try Self.require(q > 0 && q <= 1, "sampling_rate", "must be in (0, 1]")
            try Self.require(sigma.isFinite && sigma > 0, "noise_multiplier", "must be a finite number > 0")
            try Self.require(steps >= 1, "steps", "must be at least 1")
        case let .laplace(epsilon, count):
            try Self.require(epsilon.isFinite && epsilon > 0, "epsilon", "must be a finite number > 0")
            try Self.require(count >= 1, "count", "must be at least 1")
        case let .pureEpsilon(epsilon):
            try Self.require(epsilon.isFinite && epsilon > 0, "epsilon", "must be a finite number > 0")
        case let .discreteLaplace(scale, sensitivity, count):
            try Self.require(scale.isFinite && scale > 0, "scale", "must be a finite number > 0")
            try Self.require(sensitivity >= 1, "sensitivity", "must be at least 1")
            try Self.require(count >= 1, "count", "must be at least 1")
        case let .discreteGaussian(sigma, sensitivity, count):
            try Self.require(sigma > 0 && sigma <= 262_144, "sigma", "must be a number in (0, 262144]")
            try Self.require(sensitivity >= 1, "sensitivity", "must be at least 1")
            try Self.require(count >= 1, "count", "must be at least 1")
        case let .thresholded(base, delta):
            try Self.require(delta > 0 && delta < 1, "delta", "must be in (0, 1)")
            do {
                try base.validate()
            } catch {
                throw VeilError(.invalidInput, field: "base.\(error.field ?? "")", error.message)
            }
        case let .composition(parts):
            try Self.require((1...16).contains(parts.count), "parts", "must hold 1 to 16 mechanisms")
            for (index, part) in parts.enumerated() {
                if case .composition = part { throw VeilError(.invalidInput, field: "parts[\(index)]", "must not be a composition") }
                do {
                    try part.validate()
                } catch {
                    throw VeilError(.invalidInput, field: "parts[\(index)].\(error.field ?? "")", error.message)
                }
            }
        }
    }

    /// The RDP of the whole release at each of `orders` (each > 1). A mechanism that fails
    /// `validate()` has infinite RDP, so a budget check fed an invalid description refuses rather
    /// than under-counts.
    public func rdp(orders: [Double]) -> [Double] {
        guard (try? validate()) != nil else { return orders.map { _ in .infinity } }
        // At the default orders (every accountant's), remembered: a budget decision composes each new
        // spend on every replica, and a ledger repeats a few mechanisms. The same function of the
        // mechanism, so the same bits (a valid mechanism's numbers are > 0: equal ones have equal bits).
        guard orders == RDPAccountant.defaultOrders else { return validatedCurve(orders: orders) }
        return Self.defaultCurves.value(for: self) { $0.validatedCurve(orders: RDPAccountant.defaultOrders) }
    }

    private func validatedCurve(orders: [Double]) -> [Double] { orders.map(validatedRDP(order:)) }

    private static let defaultCurves = BoundedMemo<PrivacyMechanism, [Double]>(capacity: 1_024)

    private func validatedRDP(order: Double) -> Double {
        switch self {
        case let .gaussian(sigma, count):
            Double(count) * GaussianRDP.gaussian(noiseMultiplier: sigma, order: order)
        case let .subsampledGaussian(q, sigma, steps):
            Double(steps) * GaussianRDP.subsampledGaussian(samplingRate: q, noiseMultiplier: sigma, order: order)
        case let .laplace(epsilon, count):
            Double(count) * LaplaceRDP.laplace(epsilon: epsilon, order: order)
        case let .pureEpsilon(epsilon):
            LaplaceRDP.pureEpsilon(epsilon: epsilon, order: order)
        case let .discreteLaplace(scale, sensitivity, count):
            Double(count) * LaplaceRDP.pureEpsilon(epsilon: Double(sensitivity) / scale, order: order)
        case let .discreteGaussian(sigma, sensitivity, count):
            Double(count) * GaussianRDP.gaussian(noiseMultiplier: sigma / Double(sensitivity), order: order)
        case let .thresholded(base, _):
            base.validatedRDP(order: order)
        case let .composition(parts):
            parts.reduce(0) { $0 + $1.validatedRDP(order: order) }
        }
    }

    private static func require(_ condition: Bool, _ field: String, _ rule: String) throws(VeilError) {
        if !condition { throw VeilError(.invalidInput, field: field, rule) }
    }
}
