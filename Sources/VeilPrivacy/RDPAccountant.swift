/// A Rényi-DP accountant: the RDP curve of everything released so far, at a fixed set of orders,
/// and its conversion to (ε, δ)-DP.
///
/// Composition adds curves order by order (Mironov 2017, Proposition 1). With the default orders
/// the accountant reproduces Google's `dp_accounting.rdp.RdpAccountant` (v0.6.0) to rounding; a
/// known-answer test checks this against numbers that library produced.
public struct RDPAccountant: Sendable, Hashable {
    /// dp_accounting's `DEFAULT_RDP_ORDERS`: 1.1, 1.2, …, 10.9 (computed as `1 + x/10`), then the
    /// integers 11 … 63, then 128, 256, 512 and 1024.
    public static let defaultOrders: [Double] =
        (1..<100).map { 1 + Double($0) / 10 } + (11..<64).map(Double.init) + [128, 256, 512, 1024]

    /// The Rényi orders α at which the curve is kept, each > 1.
    public let orders: [Double]
    /// The composed RDP at each of `orders`.
    public private(set) var rdp: [Double]
    /// The δ composed outside the RDP curve (`PrivacyMechanism.additiveDelta`, from partition
    /// selection). By basic composition it adds to the δ of the conversion.
    public private(set) var additiveDelta: Double = 0

    /// An accountant that has composed nothing. Contract: `orders` is non-empty and every order > 1.
    public init(orders: [Double] = RDPAccountant.defaultOrders) {
        precondition(!orders.isEmpty && orders.allSatisfy { $0 > 1 }, "RDP orders must be > 1")
        self.orders = orders
        rdp = orders.map { _ in 0 }
    }

    /// Adds `mechanism`'s RDP curve. An invalid mechanism makes every order infinite.
    public mutating func compose(_ mechanism: PrivacyMechanism) {
        for (index, value) in mechanism.rdp(orders: orders).enumerated() { rdp[index] += value }
        additiveDelta += mechanism.additiveDelta
    }

    /// Adds the RDP curve of each of `mechanisms`.
    public mutating func compose(_ mechanisms: some Sequence<PrivacyMechanism>) {
        for mechanism in mechanisms { compose(mechanism) }
    }

    /// The smallest ε for which everything composed so far is (ε, `delta`)-DP, and the order that
    /// gives it (Balle et al. 2020 conversion, see `RDPConversion`). `delta` in (0, 1) is the
    /// meaningful range; `delta ≤ 0` gives `+inf` unless nothing was composed, `delta ≥ 1` gives 0.
    /// An additive δ is taken off `delta` first: the curve is converted at `delta − additiveDelta`,
    /// and ε is `+inf` when nothing is left.
    public func epsilon(delta: Double) -> (epsilon: Double, order: Double) {
        if additiveDelta > 0 {
            guard delta > additiveDelta else { return (.infinity, orders[0]) }
            return RDPConversion.epsilon(orders: orders, rdp: rdp, delta: delta - additiveDelta)
        }
        return RDPConversion.epsilon(orders: orders, rdp: rdp, delta: delta)
    }

    /// The smallest δ for which everything composed so far is (`epsilon`, δ)-DP, and the order
    /// that gives it. Contract: `epsilon ≥ 0`.
    public func delta(epsilon: Double) -> (delta: Double, order: Double) {
        let (delta, order) = RDPConversion.delta(orders: orders, rdp: rdp, epsilon: epsilon)
        return (min(1, delta + additiveDelta), order)
    }

    /// ε at `delta` for what has been composed so far plus `mechanisms`, leaving `self` unchanged.
    public func epsilon(composing mechanisms: [PrivacyMechanism], delta: Double) -> (epsilon: Double, order: Double) {
        var copy = self
        copy.compose(mechanisms)
        return copy.epsilon(delta: delta)
    }

    /// ε at `delta` for `mechanisms` composed on a fresh accountant with the default orders.
    public static func epsilon(composing mechanisms: [PrivacyMechanism], delta: Double) -> (epsilon: Double, order: Double) {
        RDPAccountant().epsilon(composing: mechanisms, delta: delta)
    }
}
