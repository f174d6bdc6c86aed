import Foundation
import Testing
import VeilCore
@testable import VeilPrivacy

/// Properties of the PLD accountant that hold whatever dp_accounting says (its numbers are checked in
/// `PLDReferenceTests`).
struct PLDAccountantTests {
    static func pld(_ mechanisms: [PrivacyMechanism], delta: Double) -> Double {
        PLDAccountant.epsilon(composing: mechanisms, delta: delta)
    }

    static func dpsgd(_ q: Double, _ sigma: Double, _ steps: Int) -> PrivacyMechanism {
        .subsampledGaussian(samplingRate: q, noiseMultiplier: sigma, steps: steps)
    }

    /// Issue 15's example: RDP says 2.10, a PLD accountant proves 1.83.
    @Test func issueExampleIsTighterThanRDP() {
        let run = [Self.dpsgd(0.01, 1, 1_000)]
        let pld = Self.pld(run, delta: 1e-5)
        let rdp = RDPAccountant.epsilon(composing: run, delta: 1e-5).epsilon
        #expect(abs(pld - 1.828) < 0.001, "PLD ε = \(pld)")
        #expect(abs(rdp - 2.10) < 0.01, "RDP ε = \(rdp)")
    }

    /// The analytic Gaussian mechanism (Balle & Wang 2018): δ(ε) = Φ(1/2σ − εσ) − e^ε Φ(−1/2σ − εσ).
    /// The PLD's δ is never below it and within 1e-3 relative of it; likewise its ε for a δ.
    @Test(arguments: [0.5, 1.0, 2.0, 4.0])
    func gaussianIsNeverBelowTheAnalyticCurve(sigma: Double) {
        func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }
        func exactDelta(_ epsilon: Double) -> Double {
            phi(1 / (2 * sigma) - epsilon * sigma) - exp(epsilon) * phi(-1 / (2 * sigma) - epsilon * sigma)
        }
        var accountant = PLDAccountant()
        accountant.compose(Self.dpsgd(1, sigma, 1))
        for epsilon in [0.05, 0.3, 1.0, 2.5] {
            let exact = exactDelta(epsilon)
            guard exact > 1e-12 else { continue }
            let reported = accountant.delta(epsilon: epsilon)
            #expect(reported >= exact, "σ \(sigma) ε \(epsilon)")
            #expect(reported <= exact * (1 + 1e-3) + 1e-15, "σ \(sigma) ε \(epsilon): \(reported) vs \(exact)")
        }
        for delta in [1e-3, 1e-5, 1e-7] {
            // The exact ε: δ(ε) is decreasing, so bisect.
            var (low, high) = (0.0, 50.0)
            for _ in 0..<200 {
                let middle = (low + high) / 2
                if exactDelta(middle) > delta { low = middle } else { high = middle }
            }
            let reported = accountant.epsilon(delta: delta)
            #expect(reported >= high - 1e-12, "σ \(sigma) δ \(delta)")
            #expect(reported <= high * (1 + 1e-3), "σ \(sigma) δ \(delta): \(reported) vs \(high)")
        }
    }

    /// Far beyond e^{−745}: one Gaussian release with σ = 0.8/√1000 has ε ≈ 949 at δ = 1e-5 (exact,
    /// from the formula above with 50-digit mpmath: 948.8851293416676). The conversion keeps its
    /// weights relative to the current loss, so nothing underflows; a conversion summing e^{−loss}
    /// reads 0 there and reports a grid loss above the truth (dp_accounting: 949.83).
    @Test func hugeEpsilonDoesNotUnderflow() {
        let exact = 948.8851293416676
        let coarse = PLDParameters(valueDiscretizationInterval: 1e-2)
        let epsilon = PLDAccountant.epsilon(composing: [Self.dpsgd(1, 0.8, 1_000)], delta: 1e-5, parameters: coarse)
        #expect(epsilon >= exact)
        #expect(epsilon <= exact + coarse.valueDiscretizationInterval)
    }

    /// A pure ε-DP release alone costs at most its ε: the exact ε(δ) of Laplace noise is
    /// ε + 2 ln(1 − δ), and of randomised response ε + ln(1 − δ(1 + e^{−ε})); at δ = 0 it is ε itself.
    @Test(arguments: [0.01, 0.1, 1.0, 0.012345678])
    func pureReleaseAloneCostsAtMostItsEpsilon(epsilon: Double) {
        let delta = 1e-6
        let laplace = Self.pld([.laplace(epsilon: epsilon, count: 1)], delta: delta)
        #expect(laplace <= epsilon)
        #expect(laplace >= epsilon + 2 * log1p(-delta) - 1e-15)
        for mechanism in [PrivacyMechanism.pureEpsilon(epsilon: epsilon), .discreteLaplace(scale: 1 / epsilon, sensitivity: 1, count: 1)] {
            let reported = Self.pld([mechanism], delta: delta)
            #expect(reported <= epsilon)
            #expect(reported >= epsilon + log1p(-delta * (1 + exp(-epsilon))) - 1e-15)
            #expect(Self.pld([mechanism], delta: 0) == epsilon)
            var accountant = PLDAccountant()
            accountant.compose(mechanism)
            #expect(accountant.delta(epsilon: epsilon) == 0)
        }
        #expect(Self.pld([.laplace(epsilon: epsilon, count: 1)], delta: 0) == epsilon)
        // RDP charges noticeably more for the same release (0.0151 for ε = 0.01 at δ = 1e-6).
        #expect(RDPAccountant.epsilon(composing: [.pureEpsilon(epsilon: epsilon)], delta: delta).epsilon > epsilon)
    }

    @Test func epsilonGrowsWithStepsAndSamplingRateAndShrinksWithNoise() {
        let bySteps = [1, 10, 100, 1_000].map { Self.pld([Self.dpsgd(0.01, 1, $0)], delta: 1e-5) }
        let byRate = [0.001, 0.01, 0.1, 0.5].map { Self.pld([Self.dpsgd($0, 1, 100)], delta: 1e-5) }
        let byNoise = [0.8, 1, 2, 5].map { Self.pld([Self.dpsgd(0.01, $0, 100)], delta: 1e-5) }
        #expect(zip(bySteps, bySteps.dropFirst()).allSatisfy { $0 < $1 }, "\(bySteps)")
        #expect(zip(byRate, byRate.dropFirst()).allSatisfy { $0 < $1 }, "\(byRate)")
        #expect(zip(byNoise, byNoise.dropFirst()).allSatisfy { $0 > $1 }, "\(byNoise)")
    }

    /// PLD accounting is tight, RDP an upper bound on the same truth: the PLD alone (before the
    /// accountant takes the smaller of the two) is never more than its discretisation (well under 1e-3)
    /// above RDP, and below it for long runs.
    @Test(arguments: [0.001, 0.01, 0.1])
    func pldAloneTendsToRDPOrBetter(q: Double) {
        for sigma in [0.8, 1.5, 4.0] {
            for steps in [1, 100, 1_000] {
                var accountant = PLDAccountant()
                accountant.compose(Self.dpsgd(q, sigma, steps))
                let pld = accountant.epsilonFromDistribution(delta: 1e-6)
                let rdp = RDPAccountant.epsilon(composing: [Self.dpsgd(q, sigma, steps)], delta: 1e-6).epsilon
                #expect(pld <= rdp + 1e-3, "q \(q) σ \(sigma) T \(steps): PLD \(pld) RDP \(rdp)")
                if steps == 1_000 { #expect(pld < rdp, "q \(q) σ \(sigma)") }
                #expect(accountant.epsilon(delta: 1e-6) == min(pld, rdp))
            }
        }
    }

    /// ε(δ) and δ(ε) invert each other: the conversion is exact for the discretised distribution.
    @Test func deltaAndEpsilonAreInverse() {
        var accountant = PLDAccountant()
        accountant.compose([Self.dpsgd(0.01, 1, 1_000), .laplace(epsilon: 0.3, count: 2), Self.dpsgd(1, 5, 1)])
        for delta in [1e-2, 1e-4, 1e-6, 1e-8] {
            let epsilon = accountant.epsilon(delta: delta)
            #expect(abs(accountant.delta(epsilon: epsilon) - delta) <= 1e-9 * delta, "δ \(delta)")
        }
        for epsilon in [0.5, 1.5, 2.5, 4.0] {
            let delta = accountant.delta(epsilon: epsilon)
            #expect(abs(accountant.epsilon(delta: delta) - epsilon) <= 1e-9, "ε \(epsilon)")
        }
    }

    /// Composition is order-free, never cheaper than any part, and never dearer than basic composition
    /// (ε's add when δ's add).
    @Test func heterogeneousCompositionLiesBetweenItsPartsAndTheirSum() {
        let parts: [PrivacyMechanism] = [
            Self.dpsgd(0.0108, 1, 465), .gaussian(noiseMultiplier: 4, count: 3), .laplace(epsilon: 0.2, count: 5),
            .discreteLaplace(scale: 10, sensitivity: 4, count: 2), .discreteGaussian(sigma: 12, sensitivity: 3, count: 2),
            .pureEpsilon(epsilon: 0.3),
        ]
        let delta = 1e-6
        let total = Self.pld(parts, delta: delta * Double(parts.count))
        let alone = parts.map { Self.pld([$0], delta: delta) }
        #expect(total >= alone.max()!)
        #expect(total <= alone.reduce(0, +))
        #expect(abs(Self.pld(parts.reversed(), delta: delta) - Self.pld(parts, delta: delta)) <= 1e-9)
    }

    /// With q = 1, T steps with multiplier σ are one Gaussian release with multiplier σ/√T.
    @Test func fullSamplingIsOneGaussian() {
        #expect(Self.pld([Self.dpsgd(1, 2, 4)], delta: 1e-5) == Self.pld([Self.dpsgd(1, 1, 1)], delta: 1e-5))
    }

    /// `gaussian` records may be discrete Gaussian noise, whose privacy curve lies above the continuous
    /// one's (exact hockey-stick values, CKS 2020 Theorem 7 and the analytic Gaussian, 40-digit mpmath:
    /// σ = Δ = 1, ε = 3 gives δ = 1.8491e-3 discrete against 1.5372e-3 continuous). So they are
    /// accounted by their RDP curve, alone exactly as `RDPAccountant`, and beside PLD releases by
    /// basic composition over a split of δ.
    @Test func gaussianRecordsAreAccountedByTheirRDPCurve() {
        let query = PrivacyMechanism.gaussian(noiseMultiplier: 2, count: 3)
        #expect(Self.pld([query], delta: 1e-6) == RDPAccountant.epsilon(composing: [query], delta: 1e-6).epsilon)
        var exact = PLDAccountant()
        exact.compose(.discreteGaussian(sigma: 1, sensitivity: 1, count: 1))
        var continuous = PLDAccountant()
        continuous.compose(Self.dpsgd(1, 1, 1))
        #expect(exact.delta(epsilon: 3) > continuous.delta(epsilon: 3) * 1.15)
        #expect(abs(exact.delta(epsilon: 3) - 1.8491357106529603e-3) < 1e-6)
        // Beside a training run: at most the sum of the parts at a split of δ, at least each part.
        let run = Self.dpsgd(0.01, 1, 1_000)
        let both = Self.pld([run, query], delta: 1e-6)
        let split = Self.pld([run], delta: 0.5e-6) + Self.pld([query], delta: 0.5e-6)
        #expect(both <= split)
        #expect(both >= max(Self.pld([run], delta: 1e-6), Self.pld([query], delta: 1e-6)))
    }

    @Test func emptyAndInvalid() {
        #expect(Self.pld([], delta: 1e-5) == 0)
        #expect(Self.pld([], delta: 0) == 0)
        #expect(Self.pld([.gaussian(noiseMultiplier: 1, count: 1)], delta: 0) == .infinity)
        #expect(Self.pld([.gaussian(noiseMultiplier: 1, count: 1)], delta: 1) == 0)
        let bad = PrivacyMechanism.subsampledGaussian(samplingRate: 0, noiseMultiplier: 1, steps: 10)
        #expect(Self.pld([bad, .laplace(epsilon: 1, count: 1)], delta: 1e-5) == .infinity)
        var accountant = PLDAccountant()
        accountant.compose(.discreteGaussian(sigma: .nan, sensitivity: 1, count: 1))
        #expect(accountant.delta(epsilon: 10) == 1)
        #expect(accountant.pureEpsilon == nil)
    }

    /// As in `RDPAccountant`: partition selection's δ is taken off the target before converting.
    @Test func additiveDeltaIsSubtractedBeforeConversion() {
        let base = PrivacyMechanism.pureEpsilon(epsilon: 0.5)
        let thresholded = PrivacyMechanism.thresholded(base: base, delta: 1e-7)
        let plain = Self.pld([.gaussian(noiseMultiplier: 3, count: 1), base], delta: 1e-6 - 1e-7)
        let withDelta = Self.pld([.gaussian(noiseMultiplier: 3, count: 1), thresholded], delta: 1e-6)
        #expect(abs(plain - withDelta) <= 1e-12)
        #expect(Self.pld(Array(repeating: thresholded, count: 10), delta: 1e-6) == .infinity)
        // Still pure: alone it costs at most its ε.
        #expect(Self.pld([thresholded], delta: 1e-6) <= 0.5)
        var accountant = PLDAccountant()
        accountant.compose([thresholded, thresholded])
        #expect(accountant.delta(epsilon: 100) == 2e-7)
    }

    /// Composing a wide distribution with a pure ε-DP release's (two losses) computes the direct sum only
    /// where the tails' truncation keeps it; the result has the bits of the whole product, added into
    /// zeros term by term, then truncated (`truncatingTails`) — as every recorded ε was computed —
    /// in either order, with tails cut on both sides, one side, or neither.
    @Test(arguments: [1e-9, 1e-30, 0])
    func composingWithAPureReleaseKeepsTheBitsOfTheWholeProductTruncated(limit: Double) {
        let interval = 1e-4, center = 2_500.0
        var wide = (0..<5_000).map { exp(-(Double($0) - center) * (Double($0) - center) / (2 * 300 * 300)) }
        let total = wide.reduce(0, +)
        wide = wide.map { $0 / total }
        wide[2_000] = -1e-18
        wide[10] = 0
        let pmf = PrivacyLossPMF(interval: interval, lowestIndex: -1_200, masses: wide, infinityMass: 1e-12)
        let pure = PrivacyLossPMF(interval: interval, lowestIndex: -1, masses: [0.4, 0, 0.6], infinityMass: 0)
        var product = [Double](repeating: 0, count: wide.count + 2)
        for (offset, weight) in pure.masses.enumerated() where weight != 0 {
            for (index, mass) in wide.enumerated() { product[index + offset] += weight * mass }
        }
        let expected = PrivacyLossPMF(
            interval: interval, lowestIndex: -1_201, masses: product, infinityMass: 1e-12 + 0 - 1e-12 * 0
        ).truncatingTails(limit)
        let bothOrders = [pmf.composed(with: pure, tailMassTruncation: limit), pure.composed(with: pmf, tailMassTruncation: limit)]
        for composed in bothOrders {
            #expect(composed.lowestIndex == expected.lowestIndex && composed.masses.count == expected.masses.count)
            #expect(composed.masses.map(\.bitPattern) == expected.masses.map(\.bitPattern), "limit \(limit)")
            #expect(composed.infinityMass.bitPattern == expected.infinityMass.bitPattern)
        }
        if limit == 1e-9 { #expect(expected.masses.count < product.count, "the tails are cut") }
    }

    /// A long asymmetric distribution (a DP-SGD run's) has its two directions composed and converted
    /// on two threads at once (`PrivacyLossDistribution.concurrentLength`): each direction is still
    /// exactly its own PMF's composition, and ε exactly the larger of the two PMFs' ε — the bits one
    /// direction after the other gives.
    @Test func theDirectionsOfALongDistributionWorkedAtOnceKeepTheirBits() throws {
        let accountant = PLDAccountant(parameters: PLDParameters())
        let training = try #require(accountant.privacyLossDistribution(of: Self.dpsgd(512.0 / 50_000, 1, 465)))
        let pure = try #require(accountant.privacyLossDistribution(of: .pureEpsilon(epsilon: 1e-4)))
        #expect(!training.isSymmetric)
        #expect(min(training.remove.masses.count, training.add.masses.count) >= PrivacyLossDistribution.concurrentLength)
        let truncation = PLDParameters().tailMassTruncation
        let composed = training.composed(with: pure, tailMassTruncation: truncation)
        // Compared apart from the expectation, which would print both distributions when they differ.
        let sameRemove = composed.remove == training.remove.composed(with: pure.remove, tailMassTruncation: truncation)
        let sameAdd = composed.add == training.add.composed(with: pure.add, tailMassTruncation: truncation)
        #expect(sameRemove, "the remove direction")
        #expect(sameAdd, "the add direction")
        for delta in [1e-5, 1e-6, 1e-9] {
            let directions = [composed.remove.epsilon(delta: delta), composed.add.epsilon(delta: delta)]
            #expect(composed.epsilon(delta: delta).bitPattern == directions.max()!.bitPattern)
        }
    }

    @Test func coarserGridIsNeverTighter() {
        let run = [Self.dpsgd(0.01, 1, 1_000)]
        let fine = Self.pld(run, delta: 1e-5)
        let coarse = PLDAccountant.epsilon(composing: run, delta: 1e-5, parameters: PLDParameters(valueDiscretizationInterval: 1e-3))
        #expect(coarse >= fine)
        #expect(coarse - fine < 5e-3)
    }
}

/// The JSON of the discrete mechanisms, and the rule that a mechanism object has exactly its keys.
struct DiscreteMechanismJSONTests {
    @Test(arguments: [
        PrivacyMechanism.discreteLaplace(scale: 20, sensitivity: 4, count: 1),
        .discreteGaussian(sigma: 12.5, sensitivity: 3, count: 2),
        .thresholded(base: .discreteLaplace(scale: 3, sensitivity: 1, count: 2), delta: 1e-9),
    ])
    func roundTrips(mechanism: PrivacyMechanism) throws {
        #expect(try JSONDecoder().decode(PrivacyMechanism.self, from: JSONEncoder().encode(mechanism)) == mechanism)
    }

    @Test func encodesTheDocumentedForm() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(PrivacyMechanism.discreteGaussian(sigma: 12.5, sensitivity: 3, count: 2)), as: UTF8.self)
        #expect(json == #"{"count":2,"mechanism":"discrete_gaussian","sensitivity":3,"sigma":12.5}"#)
    }

    @Test(arguments: [
        #"{"mechanism":"discrete_laplace","scale":0,"sensitivity":1,"count":1}"#,
        #"{"mechanism":"discrete_laplace","scale":2,"sensitivity":0,"count":1}"#,
        #"{"mechanism":"discrete_laplace","scale":2,"sensitivity":1}"#,
        #"{"mechanism":"discrete_gaussian","sigma":2,"sensitivity":1.5,"count":1}"#,
        #"{"mechanism":"discrete_gaussian","sigma":2e6,"sensitivity":1,"count":1}"#,
        #"{"mechanism":"discrete_gaussian","sigma":2,"sensitivity":1,"count":0}"#,
        // Unknown keys are errors, for every kind.
        #"{"mechanism":"gaussian","noise_multiplier":1,"count":1,"clip":1}"#,
        #"{"mechanism":"subsampled_gaussian","sampling_rate":0.1,"noise_multiplier":1,"steps":1,"epsilon":1}"#,
        #"{"mechanism":"pure_epsilon","epsilon":1,"count":2}"#,
        #"{"mechanism":"thresholded","base":{"mechanism":"pure_epsilon","epsilon":1},"delta":1e-9,"epsilon":1}"#,
        #"{"mechanism":"thresholded","base":{"mechanism":"pure_epsilon","epsilon":1,"x":0},"delta":1e-9}"#,
    ])
    func rejectsInvalidJSON(json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(PrivacyMechanism.self, from: Data(json.utf8)) }
    }

    /// RDP accounts the discrete mechanisms with their pure-ε and zCDP curves.
    @Test func rdpCurvesOfTheDiscreteMechanisms() {
        let orders = [2.0, 8.0, 32.0]
        #expect(PrivacyMechanism.discreteLaplace(scale: 10, sensitivity: 4, count: 3).rdp(orders: orders)
            == PrivacyMechanism.pureEpsilon(epsilon: 0.4).rdp(orders: orders).map { 3 * $0 })
        #expect(PrivacyMechanism.discreteGaussian(sigma: 6, sensitivity: 3, count: 2).rdp(orders: orders)
            == PrivacyMechanism.gaussian(noiseMultiplier: 2, count: 2).rdp(orders: orders))
    }
}
