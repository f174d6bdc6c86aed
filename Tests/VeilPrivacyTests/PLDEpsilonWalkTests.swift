import Foundation
import Testing
import VeilTestSupport

@testable import VeilPrivacy

/// `PrivacyLossPMF.epsilon(delta:)` walks the losses four at a time; this is the walk one loss at a time
/// (as it was first written, after dp_accounting's `_get_epsilon_for_delta`), the reference the blocked
/// walk must agree with: exactly where the answer is +inf or a loss (the early answer, checked apart),
/// and within rounding elsewhere (1e-12 relatively, or absolutely near 0; the audit replay allows 1e-9).
struct PLDEpsilonWalkTests {
    static func oneLossAtATime(_ pmf: PrivacyLossPMF, delta: Double) -> Double {
        if pmf.infinityMass > delta { return .infinity }
        let stepDown = exp(-pmf.interval)
        var upper = pmf.infinityMass
        var weighted = 0.0
        var lastLoss = 0.0
        for i in stride(from: pmf.masses.count - 1, through: 0, by: -1) {
            let loss = pmf.loss(at: i)
            let weightedHere = weighted * (i == pmf.masses.count - 1 ? 0 : stepDown)
            if upper > delta && weightedHere > 0 && upper - delta >= weightedHere { break }
            let mass = max(pmf.masses[i], 0)
            upper += mass
            weighted = weightedHere + mass
            lastLoss = loss
            if upper >= delta && weighted == 0 { return max(0, loss) }
        }
        if upper <= delta || weighted == 0 { return 0 }
        return max(0, lastLoss + log((upper - delta) / weighted))
    }

    static func expectAgrees(_ pmf: PrivacyLossPMF, delta: Double, _ comment: Comment) {
        let reference = oneLossAtATime(pmf, delta: delta)
        let walked = pmf.epsilon(delta: delta)
        if reference.isInfinite {
            #expect(walked == reference, comment)
        } else {
            #expect(abs(walked - reference) <= 1e-12 * max(1, abs(reference)), comment)
        }
    }

    /// Random distributions of every length up to 40 (so every remainder of the four-loss step), with
    /// zeros at the top, negative masses (rounding in a transform), and infinite-loss mass, at δ from 0
    /// to above the whole mass.
    @Test func randomDistributionsAgreeWithTheWalkOneLossAtATime() {
        var random = SplitMix64(seed: 20_261_201)
        for length in 1...40 {
            for trial in 0..<25 {
                var masses = (0..<length).map { _ in Double.random(in: 0..<1, using: &random) }
                if trial % 3 == 0 { for i in masses.indices.suffix(min(3, length)) { masses[i] = 0 } }
                if trial % 5 == 1, length > 2 { masses[length / 2] = -1e-18 }
                if trial % 7 == 2 { for i in masses.indices { masses[i] = masses[i] * masses[i] * 1e-6 } }
                let total = masses.reduce(0) { $0 + max($1, 0) }
                let infinity = trial % 4 == 3 ? 1e-7 : 0
                let scale = total > 0 ? (1 - infinity) / total : 0
                let pmf = PrivacyLossPMF(
                    interval: trial % 2 == 0 ? 1e-4 : 0.05, lowestIndex: -length / 3 - trial,
                    masses: masses.map { $0 * scale }, infinityMass: infinity)
                for delta in [0, 1e-9, 1e-7, 1e-5, 1e-3, 0.1, 0.5, 0.999, 1] {
                    Self.expectAgrees(pmf, delta: delta, "length \(length), trial \(trial), δ \(delta)")
                }
            }
        }
    }

    /// The early answer (U reaches δ while W is still 0: only infinite-loss mass and zeros so far) and
    /// a distribution of zeros.
    @Test func theEarlyAnswersAreTheWalksOneLossAtATime() {
        let zerosOnTop = PrivacyLossPMF(interval: 1e-3, lowestIndex: 10, masses: [0.5, 0.5 - 1e-6, 0, 0, 0, 0, 0], infinityMass: 1e-6)
        for delta in [1e-6, 1e-7, 0.3, 1] { Self.expectAgrees(zerosOnTop, delta: delta, "zeros on top, δ \(delta)") }
        #expect(zerosOnTop.epsilon(delta: 1e-6) == zerosOnTop.loss(at: 6))
        let zeros = PrivacyLossPMF(interval: 1e-3, lowestIndex: -3, masses: [0, 0, 0, 0, 0, 0], infinityMass: 0)
        for delta in [0, 1e-6, 1] { Self.expectAgrees(zeros, delta: delta, "zeros, δ \(delta)") }
    }

    /// The distributions a ledger converts most: a DP-SGD run's (both directions, tens of thousands of
    /// losses each) and a pure-ε release composed a thousand times.
    @Test func longDistributionsAgreeWithTheWalkOneLossAtATime() throws {
        let accountant = PLDAccountant(parameters: PLDParameters())
        let training = try #require(
            accountant.privacyLossDistribution(of: .subsampledGaussian(samplingRate: 512.0 / 50_000, noiseMultiplier: 1, steps: 465)))
        let pure = try #require(accountant.privacyLossDistribution(of: .pureEpsilon(epsilon: 1e-3)))
        let pures = pure.selfComposed(times: 1_000, tailMassTruncation: PLDParameters().tailMassTruncation)
        for (name, pmf) in [("remove", training.remove), ("add", training.add), ("1,000 pure", pures.remove)] {
            for delta in [1e-3, 1e-5, 1e-6, 1e-9, 1e-12] { Self.expectAgrees(pmf, delta: delta, "\(name), δ \(delta)") }
        }
    }
}
