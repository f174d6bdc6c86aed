#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Conversion of an RDP curve to (ε, δ)-DP.
///
/// Uses the bound of Balle, Barthe, Gaboardi, Hsu & Sato 2020 (*Hypothesis Testing Interpretations
/// and Rényi DP*, Proposition 12 / Theorem 21), as in dp_accounting's `compute_epsilon` /
/// `compute_delta`: an (α, r)-RDP mechanism is (ε, δ)-DP with
/// `ε = r + log1p(−1/α) − log(δ·α)/(α − 1)`, minimised over the orders. Two refinements match
/// dp_accounting: the KL bound `δ ≤ sqrt(1 − exp(−r))` gives ε = 0 when it already suffices, and
/// orders at or below 1.01 (where the bound is numerically unstable) are skipped.
enum RDPConversion {
    /// The smallest ε over `orders` for the curve `rdp` at `delta`, with the order attaining it
    /// (the first such order on ties). `delta ≤ 0` or NaN gives `+inf` unless the curve is all
    /// zero; `delta ≥ 1` gives 0. A negative RDP value (numerical trouble) counts as ε = 0, as in
    /// dp_accounting. Contract: `orders.count == rdp.count > 0`, every order ≥ 1.
    static func epsilon(orders: [Double], rdp: [Double], delta: Double) -> (epsilon: Double, order: Double) {
        precondition(orders.count == rdp.count && !orders.isEmpty, "one RDP value per order")
        if !(delta > 0) {
            return rdp.allSatisfy({ $0 == 0 }) ? (0, 0) : (.infinity, 0)
        }
        var best = (epsilon: Double.infinity, order: orders[0])
        for (alpha, r) in zip(orders, rdp) {
            let epsilon: Double
            if r < 0 {
                epsilon = 0
            } else if delta * delta + expm1(-r) > 0 {
                epsilon = 0
            } else if alpha > 1.01 {
                epsilon = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                epsilon = .infinity
            }
            if epsilon < best.epsilon { best = (epsilon, alpha) }
        }
        return (max(0, best.epsilon), best.order)
    }

    /// The smallest δ over `orders` for the curve `rdp` at `epsilon ≥ 0`, with the order attaining
    /// it: `min(sqrt(1 − exp(−r)), exp((α−1)(r − ε + log1p(−1/α)) − log α))`, capped at 1.
    static func delta(orders: [Double], rdp: [Double], epsilon: Double) -> (delta: Double, order: Double) {
        precondition(orders.count == rdp.count && !orders.isEmpty, "one RDP value per order")
        precondition(epsilon >= 0, "epsilon must be non-negative")
        var best = (logDelta: Double.infinity, order: orders[0])
        for (alpha, r) in zip(orders, rdp) {
            var logDelta: Double
            if r <= 0 {
                logDelta = -.infinity
            } else {
                logDelta = 0.5 * log1p(-exp(-r))
            }
            if alpha > 1.01 {
                logDelta = min(logDelta, (alpha - 1) * (r - epsilon + log1p(-1 / alpha)) - log(alpha))
            }
            if logDelta < best.logDelta { best = (logDelta, alpha) }
        }
        return (min(exp(best.logDelta), 1), best.order)
    }
}
