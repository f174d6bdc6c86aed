import Dispatch
import Synchronization

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

    /// Both mechanisms run on the same data, each direction convolved separately (symmetric pairs once;
    /// a long asymmetric pair on two threads at once, `bothDirections`).
    func composed(with other: PrivacyLossDistribution, tailMassTruncation: Double) -> PrivacyLossDistribution {
        if isSymmetric && other.isSymmetric {
            return PrivacyLossDistribution(symmetric: remove.composed(with: other.remove, tailMassTruncation: tailMassTruncation))
        }
        let (removing, adding) = bothDirections(
            { remove.composed(with: other.remove, tailMassTruncation: tailMassTruncation) },
            { add.composed(with: other.add, tailMassTruncation: tailMassTruncation) },
            length: max(remove.masses.count + other.remove.masses.count, add.masses.count + other.add.masses.count))
        return PrivacyLossDistribution(remove: removing, add: adding)
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

    /// The smallest ε at which the mechanism is (ε, `delta`)-DP for both neighbouring directions (a
    /// long asymmetric pair's two walks on two threads at once, `bothDirections`).
    func epsilon(delta: Double) -> Double {
        if isSymmetric { return remove.epsilon(delta: delta) }
        let (removing, adding) = bothDirections(
            { remove.epsilon(delta: delta) }, { add.epsilon(delta: delta) }, length: max(remove.masses.count, add.masses.count))
        return max(removing, adding)
    }

    /// The length (in losses) from which the two directions of a distribution are worked on at once.
    /// A subsampled Gaussian's distribution after a DP-SGD run holds a few hundred thousand losses in
    /// each direction, and every reservation on a ledger holding such a spend composes and converts it
    /// (`LedgerComposition`, under the ledger's lock), where each direction's work is hundreds of
    /// microseconds: far above a second thread's start; pure-ε ledgers stay far below it.
    static let concurrentLength = 32_768

    /// `first()` and `second()` — one direction's work each — on two threads at once when `length`
    /// reaches `concurrentLength` (the caller's thread runs one, and both when no other thread
    /// comes), else one after the other. Each direction's work is the same computation either way, so
    /// the same bits.
    private func bothDirections<T: Sendable>(
        _ first: @Sendable () -> T, _ second: @Sendable () -> T, length: Int
    ) -> (T, T) {
        guard length >= Self.concurrentLength else { return (first(), second()) }
        let results = Mutex<(T?, T?)>((nil, nil))
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            if index == 0 {
                let value = first()
                results.withLock { $0.0 = value }
            } else {
                let value = second()
                results.withLock { $0.1 = value }
            }
        }
        return results.withLock { ($0.0!, $0.1!) }
    }
}
