import Foundation

/// Gives a share of an (ε, δ) target to a Gaussian release made beside another (a training run's
/// private evaluation beside its DP-SGD steps), measured in zero-concentrated DP, where Gaussian
/// releases compose by adding their ρ (Bun & Steinke 2016).
///
/// The share only chooses the release's σ; what is charged is the exact composition of both releases
/// under the ledger's accountant (`NoiseCalibration.calibrate(…, alongside:)` fits the other release's
/// noise to what is left), so the split never understates the cost.
public enum BudgetShare {
    /// The ρ for which ρ-zCDP implies exactly (ε, δ)-DP by Bun & Steinke 2016, Proposition 1.3,
    /// ε = ρ + 2√(ρ ln(1/δ)): ρ = (√(ln(1/δ) + ε) − √(ln(1/δ)))². Contract: ε > 0, δ in (0, 1).
    public static func zcdpRho(epsilon: Double, delta: Double) -> Double {
        let logInverseDelta = log(1 / delta)
        let root = (logInverseDelta + epsilon).squareRoot() - logInverseDelta.squareRoot()
        return root * root
    }

    /// The σ of a sensitivity-1 Gaussian or discrete Gaussian release (½σ⁻²-zCDP; Canonne, Kamath &
    /// Steinke 2020, Theorem 4, for the discrete one) that uses `share` of the ρ of (ε, δ):
    /// σ = 1/√(2·share·ρ). Contract: share in (0, 1), ε > 0, δ in (0, 1).
    public static func gaussianSigma(share: Double, epsilon: Double, delta: Double) -> Double {
        1 / (2 * share * zcdpRho(epsilon: epsilon, delta: delta)).squareRoot()
    }
}
