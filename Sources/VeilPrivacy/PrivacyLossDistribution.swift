/// The privacy loss distribution (PLD) of a mechanism under add-or-remove-one-user neighbours: one
/// discretised distribution for removing a user (M(D) against M(D minus the user)) and one for adding
/// one (M(D) against M(D plus the user)). For most mechanisms the two coincide (`remove == add`); for
/// Poisson subsampling they differ, and the guarantee is the worse of the two: δ(ε) is the larger
/// δ and ε(δ) the larger ε (dp_accounting's `PrivacyLossDistribution`).
struct PrivacyLossDistribution: Sendable, Hashable {
    let remove: PrivacyLossPMF
    let add: PrivacyLossPMF

    /// Contract: both on the same grid.
    init(remove: PrivacyLossPMF, add: PrivacyLossPMF) {
        precondition(remove.interval == add.interval, "add and remove distributions on different grids")
        self.remove = remove
        self.add = add
    }

    /// A distribution that is the same for adding and removing a user.
    init(symmetric pmf: PrivacyLossPMF) {
        self.init(remove: pmf, add: pmf)
    }

    /// The distribution of releasing nothing: loss 0 with probability 1.
    static func identity(interval: Double) -> PrivacyLossDistribution {
        PrivacyLossDistribution(symmetric: .identity(interval: interval))
    }

    var isSymmetric: Bool { remove == add }

    /// Both mechanisms run on the same data, each direction convolved separately (symmetric pairs once).
    func composed(with other: PrivacyLossDistribution, tailMassTruncation: Double) -> PrivacyLossDistribution {
        let remove = remove.composed(with: other.remove, tailMassTruncation: tailMassTruncation)
        if isSymmetric && other.isSymmetric { return PrivacyLossDistribution(symmetric: remove) }
        return PrivacyLossDistribution(
            remove: remove, add: add.composed(with: other.add, tailMassTruncation: tailMassTruncation))
    }

    /// `times` independent runs of the mechanism; an asymmetric pair shares one pair of transforms.
    func selfComposed(times: Int, tailMassTruncation: Double) -> PrivacyLossDistribution {
        if isSymmetric {
            return PrivacyLossDistribution(symmetric: remove.selfComposed(times: times, tailMassTruncation: tailMassTruncation))
        }
        let (remove, add) = remove.selfComposed(pairedWith: add, times: times, tailMassTruncation: tailMassTruncation)
        return PrivacyLossDistribution(remove: remove, add: add!)
    }

    /// The δ at which the mechanism is (`epsilon`, δ)-DP for both neighbouring directions.
    func delta(epsilon: Double) -> Double {
        isSymmetric ? remove.delta(epsilon: epsilon) : max(remove.delta(epsilon: epsilon), add.delta(epsilon: epsilon))
    }

    /// The smallest ε at which the mechanism is (ε, `delta`)-DP for both neighbouring directions.
    func epsilon(delta: Double) -> Double {
        isSymmetric ? remove.epsilon(delta: delta) : max(remove.epsilon(delta: delta), add.epsilon(delta: delta))
    }
}
