#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A discretised privacy loss distribution for one direction of the neighbouring relation: the
/// probability of each privacy loss `(lowestIndex + i) · interval` under the "upper" output
/// distribution, plus the probability of an infinite loss.
///
/// For a mechanism M and neighbours D, D′, the privacy loss of an output o is `ln(P[M(D)=o] / P[M(D′)=o])`
/// with o drawn from M(D). The hockey-stick divergence of the pair at ε — the δ for which M is
/// (ε, δ)-DP in that direction — is `E[(1 − e^{ε − L})₊]`, which `delta(epsilon:)` computes.
///
/// Pessimism: every construction rounds losses up to the grid (or, for Connect-the-Dots, places mass
/// so that δ(ε) is over-estimated at every ε), and composition moves truncated tail mass to a larger
/// loss or to infinity, never to a smaller one. So δ(ε) here is never below the δ(ε) of the true,
/// continuous distribution, and the ε returned for a δ is never below the true one.
struct PrivacyLossPMF: Sendable, Hashable {
    /// The grid spacing of the losses.
    let interval: Double
    /// The loss of `masses[0]`, in units of `interval`.
    let lowestIndex: Int
    /// The probability of each loss on the grid, from the lowest up (non-negative up to rounding).
    let masses: [Double]
    /// The probability of an infinite loss: outputs that M(D′) can never produce, and truncated tails.
    let infinityMass: Double

    /// The distribution of the mechanism that releases nothing: loss 0 with probability 1.
    static func identity(interval: Double) -> PrivacyLossPMF {
        PrivacyLossPMF(interval: interval, lowestIndex: 0, masses: [1], infinityMass: 0)
    }

    /// Builds a PMF from masses at grid indices (any order; repeated indices add up).
    init(interval: Double, massesByIndex: [Int: Double], infinityMass: Double) {
        let lowest = massesByIndex.keys.min() ?? 0
        let highest = massesByIndex.keys.max() ?? 0
        var masses = [Double](repeating: 0, count: highest - lowest + 1)
        for (index, mass) in massesByIndex { masses[index - lowest] += mass }
        self.init(interval: interval, lowestIndex: lowest, masses: masses, infinityMass: infinityMass)
    }

    init(interval: Double, lowestIndex: Int, masses: [Double], infinityMass: Double) {
        precondition(!masses.isEmpty, "a privacy loss distribution needs at least one finite loss")
        self.interval = interval
        self.lowestIndex = lowestIndex
        self.masses = masses
        self.infinityMass = infinityMass
    }

    /// The loss at `masses[i]`.
    func loss(at i: Int) -> Double { Double(lowestIndex + i) * interval }

    // MARK: - Composition

    /// The distribution of both mechanisms run on the same data (the sum of independent losses),
    /// with tails of total mass at most `tailMassTruncation` cut off pessimistically (see
    /// `truncatingTails`). Contract: same `interval`.
    func composed(with other: PrivacyLossPMF, tailMassTruncation: Double) -> PrivacyLossPMF {
        precondition(interval == other.interval, "composing distributions on different grids")
        // The identity (loss 0 with probability 1) changes nothing but the tails' truncation.
        if self == .identity(interval: interval) { return other.truncatingTails(tailMassTruncation) }
        let infinity = infinityMass + other.infinityMass - infinityMass * other.infinityMass
        let lowest = lowestIndex + other.lowestIndex
        let product: [Double]
        switch (masses.count, other.masses.count) {
        case (1, _): product = other.masses.map { $0 * masses[0] }
        case (_, 1): product = masses.map { $0 * other.masses[0] }
        default:
            if let sparse = RealConvolution.Sparse(masses, other.masses) {
                // The direct sum, computed only where the tails' truncation keeps it.
                return Self.truncating(
                    count: sparse.length, element: sparse.element, elements: sparse.elements, limit: tailMassTruncation,
                    interval: interval, lowestIndex: lowest, infinityMass: infinity)
            }
            product = RealConvolution.convolve(masses, other.masses)
        }
        return PrivacyLossPMF(interval: interval, lowestIndex: lowest, masses: product, infinityMass: infinity)
            .truncatingTails(tailMassTruncation)
    }

    /// The distribution of `times` independent runs of this mechanism, by exponentiating its spectrum
    /// (Koskela, Jälkö & Honkela 2020). The result keeps only the window of losses that, by a Chernoff
    /// bound over 40 orders (as dp_accounting's `compute_self_convolve_bounds`), holds all but
    /// `tailMassTruncation` of the mass; that mass is counted as infinite loss, and the window is what
    /// the transform computes, so its size bounds the work.
    func selfComposed(times: Int, tailMassTruncation: Double) -> PrivacyLossPMF {
        selfComposed(pairedWith: nil, times: times, tailMassTruncation: tailMassTruncation).0
    }

    /// `selfComposed(times:tailMassTruncation:)` of this and of `other` in one pair of transforms.
    func selfComposed(pairedWith other: PrivacyLossPMF?, times: Int, tailMassTruncation: Double)
        -> (PrivacyLossPMF, PrivacyLossPMF?)
    {
        precondition(times >= 1, "self-composition needs at least one run")
        if times == 1 { return (self, other) }
        let window = chernoffWindow(times: times, tailMassTruncation: tailMassTruncation)
        let otherWindow = other?.chernoffWindow(times: times, tailMassTruncation: tailMassTruncation)
        let length = max(window.count, otherWindow?.count ?? 0, masses.count, other?.masses.count ?? 0)
        let size = FFT.size(atLeast: length)
        let (x, y) = RealConvolution.selfConvolve(masses, other?.masses, times: times, size: size)
        func result(_ pmf: PrivacyLossPMF, _ window: ClosedRange<Int>, _ circular: [Double]) -> PrivacyLossPMF {
            // Element n of the circular result holds index n (mod size) of the true one.
            var masses: [Double] = []
            masses.reserveCapacity(window.count)
            var index = window.lowerBound
            while index <= window.upperBound {
                let start = ((index % size) + size) % size
                let count = min(size - start, window.upperBound - index + 1)
                masses.append(contentsOf: circular[start..<(start + count)])
                index += count
            }
            let infinity = tailMassTruncation - expm1(Double(times) * log1p(-pmf.infinityMass))
            return PrivacyLossPMF(
                interval: interval, lowestIndex: pmf.lowestIndex * times + window.lowerBound, masses: masses,
                infinityMass: min(1, infinity))
        }
        let first = result(self, window, x)
        guard let other, let otherWindow, let y else { return (first, nil) }
        return (first, result(other, otherWindow, y))
    }

    /// The range of indices (relative to `lowestIndex · times`) outside which the `times`-fold
    /// self-convolution has mass at most `tailMassTruncation`: for each order λ, a tail beyond b has
    /// mass ≤ exp(times·log E[e^{λI}] − λb), set to `tailMassTruncation/2` per side.
    private func chernoffWindow(times: Int, tailMassTruncation: Double) -> ClosedRange<Int> {
        let orders = ([Int](-20 ... -1) + [Int](1...20)).map { Double($0) / Double(masses.count) }
        // Σ mᵢ e^{λ·i} for every order λ at once, e^{λ·i} built by multiplication (|λ·i| ≤ 20).
        let ratios = orders.map { exp($0) }
        var powers = [Double](repeating: 1, count: orders.count)
        var sums = [Double](repeating: 0, count: orders.count)
        for mass in masses {
            let mass = max(mass, 0)
            for k in orders.indices {
                sums[k] += mass * powers[k]
                powers[k] *= ratios[k]
            }
        }
        var upper = (masses.count - 1) * times
        var lower = 0
        let logTwoOverTail = log(2 / tailMassTruncation)
        for (order, sum) in zip(orders, sums) {
            let bound = (Double(times) * log(sum) + logTwoOverTail) / order
            guard bound.isFinite else { continue }
            if order > 0 { upper = min(upper, Int(bound.rounded(.up))) } else { lower = max(lower, Int(bound.rounded(.down))) }
        }
        return lower...max(lower, upper)
    }

    /// Cuts off the longest prefix and suffix of `masses` whose sums are each at most `limit/2`: the
    /// prefix's mass moves to the first kept loss (a larger loss: pessimistic) and the suffix's to
    /// infinity. As dp_accounting's `_truncate_tails`.
    func truncatingTails(_ limit: Double) -> PrivacyLossPMF {
        Self.truncating(
            count: masses.count, element: { masses[$0] }, elements: { Array(masses[$0]) }, limit: limit, interval: interval,
            lowestIndex: lowestIndex, infinityMass: infinityMass, whole: self)
    }

    /// `truncatingTails(limit)` of the distribution whose `count` masses are `element(i)` (from
    /// `lowestIndex`, with `infinityMass`), asking `elements` only for the kept range: `whole` (or, when
    /// nil, every element) when nothing is cut. Every sum is taken in the same order as on an array.
    private static func truncating(
        count: Int, element: (Int) -> Double, elements: (Range<Int>) -> [Double], limit: Double, interval: Double,
        lowestIndex: Int, infinityMass: Double, whole: PrivacyLossPMF? = nil
    ) -> PrivacyLossPMF {
        var left = 0
        var right = count
        if limit > 0 {
            var leftMass = 0.0
            while left < count, leftMass + element(left) <= limit / 2 {
                leftMass += element(left)
                left += 1
            }
            var rightMass = 0.0
            while right > left + 1, rightMass + element(right - 1) <= limit / 2 {
                rightMass += element(right - 1)
                right -= 1
            }
        }
        guard left > 0 || right < count else {
            return whole
                ?? PrivacyLossPMF(interval: interval, lowestIndex: lowestIndex, masses: elements(0..<count), infinityMass: infinityMass)
        }
        left = min(left, right - 1)
        var kept = elements(left..<right)
        kept[0] += (0..<left).reduce(0) { $0 + element($1) }
        return PrivacyLossPMF(
            interval: interval, lowestIndex: lowestIndex + left, masses: kept,
            infinityMass: infinityMass + (right..<count).reduce(0) { $0 + element($1) })
    }

    // MARK: - Conversion

    /// The hockey-stick divergence at `epsilon`: `infinityMass + Σ_{L > ε} (1 − e^{ε − L}) P(L)`.
    /// Negative masses (rounding in a transform) count as 0, which can only raise δ.
    func delta(epsilon: Double) -> Double {
        var delta = infinityMass
        for i in stride(from: masses.count - 1, through: 0, by: -1) {
            let loss = loss(at: i)
            guard loss > epsilon else { break }
            delta += -expm1(epsilon - loss) * max(masses[i], 0)
        }
        return min(delta, 1)
    }

    /// The smallest ε ≥ 0 with `delta(epsilon:) ≤ delta`, or `+inf` when the infinite loss alone has
    /// more mass than `delta`.
    ///
    /// Walks the losses from the top, keeping `U = P(L ≥ ℓ)` and `V = E[e^{−L}; L ≥ ℓ]`; once the cut
    /// `ln((U − δ)/V)` is at least the next loss, δ(ε) = U − e^ε·V there and that cut is the answer
    /// (as dp_accounting's `_get_epsilon_for_delta`). V is kept as `W = V·e^ℓ` at the last loss ℓ
    /// added — `W ← W·e^{−interval} + P(ℓ)` one step down — so no term under- or overflows.
    ///
    /// The walk covers every loss above the answer: after a DP-SGD run's spend, tens of thousands, and
    /// a reservation's decision converts once per candidate under the ledger's lock. One loss at a time,
    /// W's multiply-add chain bounded the walk (about 3 ns a loss). Once W is positive (every loss from
    /// then on passes the `W == 0` test), the walk takes four losses per step: the state before
    /// each of them is computed from the block's first (off the chain), and the chain carries only the
    /// block's end — `W ← W·e^{−k·interval} + Σ P(ℓ_j)·e^{−(k−1−j)·interval}`, `U ← U + Σ P(ℓ_j)`. The
    /// sums associate differently from one loss at a time, so ε may differ from that walk in its last
    /// bits (about 1e-15 relatively, far inside the audit replay's 1e-9); the cut found is the same
    /// function of U and W, continuous across a step, so a borderline test decided the other way
    /// moves ε by rounding only.
    func epsilon(delta: Double) -> Double {
        if infinityMass > delta { return .infinity }
        let stepDown = exp(-interval)
        var upper = infinityMass
        var weighted = 0.0
        var index = masses.count - 1
        // One loss at a time until W is positive: the top loss (nothing above it to weigh) and any
        // zero masses under it, and the early answer when U reaches δ with W still 0.
        while index >= 0 && weighted == 0 {
            let mass = max(masses[index], 0)
            upper += mass
            weighted = mass
            if upper >= delta && weighted == 0 { return max(0, loss(at: index)) }
            index -= 1
        }
        // Four losses per step; the state before loss `index − k` of a step is (u_k, w_k).
        let (s1, s2, s3) = (stepDown, stepDown * stepDown, stepDown * stepDown * stepDown)
        let s4 = s2 * s2
        return masses.withUnsafeBufferPointer { masses in
            func answer(before next: Int, upper: Double, weighted: Double) -> Double {
                // The last loss added is the one above `next`.
                max(0, loss(at: next + 1) + log((upper - delta) / weighted))
            }
            /// Whether the walk stops before the loss it is at, with W·e^{−interval} there.
            func stops(_ upper: Double, _ weightedHere: Double) -> Bool {
                upper > delta && weightedHere > 0 && upper - delta >= weightedHere
            }
            while index >= 3 {
                let (m0, m1, m2, m3) = (
                    max(masses[index], 0), max(masses[index - 1], 0), max(masses[index - 2], 0), max(masses[index - 3], 0)
                )
                let (u0, w0) = (upper, weighted)
                let (u1, w1) = (u0 + m0, w0 * s1 + m0)
                let (u2, w2) = (u1 + m1, w1 * s1 + m1)
                let (u3, w3) = (u2 + m2, w2 * s1 + m2)
                if stops(u0, w0 * s1) { return answer(before: index, upper: u0, weighted: w0) }
                if stops(u1, w1 * s1) { return answer(before: index - 1, upper: u1, weighted: w1) }
                if stops(u2, w2 * s1) { return answer(before: index - 2, upper: u2, weighted: w2) }
                if stops(u3, w3 * s1) { return answer(before: index - 3, upper: u3, weighted: w3) }
                upper = u0 + ((m0 + m1) + (m2 + m3))
                weighted = w0 * s4 + ((m0 * s3 + m1 * s2) + (m2 * s1 + m3))
                index -= 4
            }
            while index >= 0 {
                if stops(upper, weighted * s1) { return answer(before: index, upper: upper, weighted: weighted) }
                let mass = max(masses[index], 0)
                upper += mass
                weighted = weighted * s1 + mass
                index -= 1
            }
            if upper <= delta || weighted == 0 { return 0 }
            return answer(before: -1, upper: upper, weighted: weighted)
        }
    }
}
