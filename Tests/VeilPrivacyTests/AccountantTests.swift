import Foundation
import Testing
import VeilCore
@testable import VeilPrivacy

struct AccountantTests {
    @Test(arguments: [
        (0.01, 1_000, 1e-5, 1.0), (0.001, 10_000, 1e-6, 0.5), (0.1, 100, 1e-5, 3.0), (1.0, 1, 1e-5, 8.0),
        (1.0, 1, 1e-5, 0.1), (0.001, 1, 1e-5, 10.0),
    ])
    func calibrationMeetsTargetWithinTolerance(q: Double, steps: Int, delta: Double, target: Double) throws {
        let result = try RDPAccountant.calibrateNoiseMultiplier(targetEpsilon: target, delta: delta, samplingRate: q, steps: steps)
        #expect(result.epsilon <= target)
        #expect(result.epsilon >= target - min(0.01, target / 100))
        let recomputed = RDPAccountant.epsilon(
            composing: [.subsampledGaussian(samplingRate: q, noiseMultiplier: result.noiseMultiplier, steps: steps)], delta: delta)
        #expect(recomputed.epsilon == result.epsilon)
        // A little less noise must break the target (σ is the smallest to bisection precision).
        let less = RDPAccountant.epsilon(
            composing: [.subsampledGaussian(samplingRate: q, noiseMultiplier: result.noiseMultiplier * 0.99, steps: steps)], delta: delta)
        #expect(less.epsilon > target - min(0.01, target / 100))
    }

    @Test func calibrationRejectsBadInput() {
        #expect(throws: VeilError.self) {
            try RDPAccountant.calibrateNoiseMultiplier(targetEpsilon: 0, delta: 1e-5, samplingRate: 0.1, steps: 10)
        }
        #expect(throws: VeilError(.invalidInput, field: "delta", "must be in (0, 1)")) {
            try RDPAccountant.calibrateNoiseMultiplier(targetEpsilon: 1, delta: 1, samplingRate: 0.1, steps: 10)
        }
        #expect(throws: VeilError(.invalidInput, field: "sampling_rate", "must be in (0, 1]")) {
            try RDPAccountant.calibrateNoiseMultiplier(targetEpsilon: 1, delta: 1e-5, samplingRate: 1.5, steps: 10)
        }
    }

    @Test func compositionAddsCurves() {
        let a = PrivacyMechanism.gaussian(noiseMultiplier: 2, count: 3)
        let b = PrivacyMechanism.laplace(epsilon: 0.3, count: 1)
        var accountant = RDPAccountant()
        accountant.compose([a, b])
        let orders = RDPAccountant.defaultOrders
        let expected = zip(a.rdp(orders: orders), b.rdp(orders: orders)).map { $0 + $1 }
        #expect(accountant.rdp == expected)
        // Gaussian RDP is α·count/(2σ²).
        #expect(a.rdp(orders: [2]) == [2.0 * 3 / 8])
    }

    @Test func emptyAccountantAndDeltaEdgeCases() {
        let empty = RDPAccountant()
        #expect(empty.epsilon(delta: 1e-5).epsilon == 0)
        #expect(empty.epsilon(delta: 0).epsilon == 0)
        var used = RDPAccountant()
        used.compose(.gaussian(noiseMultiplier: 1, count: 1))
        #expect(used.epsilon(delta: 0).epsilon == .infinity)
        #expect(used.epsilon(delta: 1).epsilon == 0)
    }

    @Test func invalidMechanismCostsInfinity() {
        let bad = PrivacyMechanism.subsampledGaussian(samplingRate: 0, noiseMultiplier: 1, steps: 10)
        #expect(throws: VeilError.self) { try bad.validate() }
        #expect(RDPAccountant.epsilon(composing: [bad], delta: 1e-5).epsilon == .infinity)
        #expect(RDPAccountant.epsilon(composing: [.gaussian(noiseMultiplier: .nan, count: 1)], delta: 1e-5).epsilon == .infinity)
    }

    @Test(arguments: [0.01, 0.1, 1.0, 5.0])
    func pureEpsilonBoundIsBelowSimpleBoundsAndLaplace(epsilon: Double) {
        let orders = RDPAccountant.defaultOrders
        let pure = PrivacyMechanism.pureEpsilon(epsilon: epsilon).rdp(orders: orders)
        let laplace = PrivacyMechanism.laplace(epsilon: epsilon, count: 1).rdp(orders: orders)
        for (index, alpha) in orders.enumerated() {
            #expect(pure[index] >= 0)
            #expect(pure[index] <= min(epsilon, alpha * epsilon * epsilon / 2) * (1 + 1e-12))
            // Laplace is one ε-DP mechanism, so the all-mechanism bound must dominate it.
            #expect(pure[index] >= laplace[index] * (1 - 1e-9))
        }
        // Randomised response at α = 2 in closed form: log(2 cosh ε − 1).
        let atTwo = PrivacyMechanism.pureEpsilon(epsilon: epsilon).rdp(orders: [2])[0]
        #expect(abs(atTwo - log(2 * cosh(epsilon) - 1)) <= 1e-12 * max(1, atTwo))
    }
}

struct MechanismJSONTests {
    @Test func encodesTheDocumentedForm() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let json = String(decoding: try encoder.encode(mechanism), as: UTF8.self)
        #expect(json == #"{"mechanism":"subsampled_gaussian","noise_multiplier":1.1,"sampling_rate":0.01,"steps":1000}"#)
        let pure = String(decoding: try encoder.encode(PrivacyMechanism.pureEpsilon(epsilon: 0.1)), as: UTF8.self)
        #expect(pure == #"{"epsilon":0.1,"mechanism":"pure_epsilon"}"#)
    }

    @Test(arguments: [
        PrivacyMechanism.gaussian(noiseMultiplier: 0.7, count: 2),
        .subsampledGaussian(samplingRate: 0.003, noiseMultiplier: 1.3, steps: 12),
        .laplace(epsilon: 0.25, count: 4),
        .pureEpsilon(epsilon: 1.5),
        .thresholded(base: .gaussian(noiseMultiplier: 3, count: 2), delta: 1e-9),
        .thresholded(base: .pureEpsilon(epsilon: 0.5), delta: 1e-8),
        .composition(parts: [
            .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 100), .discreteGaussian(sigma: 40, sensitivity: 1, count: 1),
        ]),
    ])
    func roundTrips(mechanism: PrivacyMechanism) throws {
        let decoded = try JSONDecoder().decode(PrivacyMechanism.self, from: JSONEncoder().encode(mechanism))
        #expect(decoded == mechanism)
    }

    @Test(arguments: [
        #"{"mechanism":"exponential","epsilon":1}"#,
        #"{"mechanism":"gaussian","noise_multiplier":1}"#,
        #"{"mechanism":"gaussian","noise_multiplier":-1,"count":1}"#,
        #"{"mechanism":"subsampled_gaussian","sampling_rate":2,"noise_multiplier":1,"steps":1}"#,
        #"{"mechanism":"laplace","epsilon":0,"count":1}"#,
        #"{"mechanism":"thresholded","base":{"mechanism":"pure_epsilon","epsilon":1},"delta":0}"#,
        #"{"mechanism":"thresholded","base":{"mechanism":"pure_epsilon","epsilon":-1},"delta":1e-9}"#,
        #"{"mechanism":"thresholded","delta":1e-9}"#,
        #"{"mechanism":"composition","parts":[]}"#,
        #"{"mechanism":"composition","parts":[{"mechanism":"composition","parts":[{"mechanism":"pure_epsilon","epsilon":1}]}]}"#,
        #"{"mechanism":"composition","parts":[{"mechanism":"pure_epsilon","epsilon":1}],"delta":1e-9}"#,
        #"{"mechanism":"composition","parts":[{"mechanism":"discrete_gaussian","sigma":0,"sensitivity":1,"count":1}]}"#,
    ])
    func rejectsInvalidJSON(json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(PrivacyMechanism.self, from: Data(json.utf8)) }
    }
}

struct CompositionAccountingTests {
    static let parts: [PrivacyMechanism] = [
        .subsampledGaussian(samplingRate: 0.0108, noiseMultiplier: 1.05, steps: 465),
        .discreteGaussian(sigma: 35, sensitivity: 1, count: 1),
        .thresholded(base: .gaussian(noiseMultiplier: 6, count: 2), delta: 1e-9),
    ]

    /// One spend of a composition costs exactly what its parts cost spent one by one, under both
    /// accountants, and alongside other spends.
    @Test(arguments: [AccountantKind.pld, .rdp])
    func aCompositionCostsWhatItsPartsCost(kind: AccountantKind) {
        let method = AccountingMethod(kind)
        let together = PrivacyAccountant.epsilon(composing: [.composition(parts: Self.parts)], delta: 1e-6, method: method)
        let apart = PrivacyAccountant.epsilon(composing: Self.parts, delta: 1e-6, method: method)
        // The same ε up to the order of floating-point additions of RDP curves.
        #expect(abs(together - apart) <= 1e-12 * apart)
        let before = PrivacyMechanism.pureEpsilon(epsilon: 0.3)
        let after = PrivacyAccountant.epsilon(composing: [before, .composition(parts: Self.parts)], delta: 1e-6, method: method)
        let separately = PrivacyAccountant.epsilon(composing: [before] + Self.parts, delta: 1e-6, method: method)
        #expect(abs(after - separately) <= 1e-12 * separately)
        #expect(together > PrivacyAccountant.epsilon(composing: [Self.parts[0]], delta: 1e-6, method: method))
    }

    @Test func pureEpsilonAndAdditiveDeltaAddUp() throws {
        let pure = PrivacyMechanism.composition(parts: [.pureEpsilon(epsilon: 0.2), .laplace(epsilon: 0.1, count: 3)])
        #expect(abs(try #require(pure.pureEpsilon) - 0.5) < 1e-15)
        #expect(PrivacyMechanism.composition(parts: Self.parts).pureEpsilon == nil)
        #expect(PrivacyMechanism.composition(parts: Self.parts).additiveDelta == 1e-9)
        let orders = [2.0, 16]
        let sum = zip(Self.parts[0].rdp(orders: orders), zip(Self.parts[1].rdp(orders: orders), Self.parts[2].rdp(orders: orders)))
            .map { $0 + $1.0 + $1.1 }
        #expect(PrivacyMechanism.composition(parts: Self.parts).rdp(orders: orders) == sum)
        #expect {
            try PrivacyMechanism.composition(parts: [.pureEpsilon(epsilon: 1), .discreteGaussian(sigma: 0, sensitivity: 1, count: 1)]).validate()
        } throws: { ($0 as? VeilError)?.field == "parts[1].sigma" }
    }
}

struct ThresholdedAccountingTests {
    /// The additive δ of partition selection is taken off the target δ before conversion, composes by
    /// addition, and leaves the RDP curve of the base unchanged.
    @Test func additiveDeltaIsSubtractedBeforeConversion() {
        let base = PrivacyMechanism.gaussian(noiseMultiplier: 4, count: 2)
        let thresholded = PrivacyMechanism.thresholded(base: base, delta: 1e-7)
        #expect(thresholded.rdp(orders: [2, 8, 32]) == base.rdp(orders: [2, 8, 32]))
        let plain = RDPAccountant.epsilon(composing: [base], delta: 1e-6 - 1e-7).epsilon
        let withDelta = RDPAccountant.epsilon(composing: [thresholded], delta: 1e-6).epsilon
        #expect(abs(plain - withDelta) < 1e-12)
        #expect(withDelta > RDPAccountant.epsilon(composing: [base], delta: 1e-6).epsilon)

        var accountant = RDPAccountant()
        accountant.compose([thresholded, thresholded])
        #expect(abs(accountant.additiveDelta - 2e-7) < 1e-20)
        #expect(accountant.delta(epsilon: 100).delta >= 2e-7)
        // Ten such releases use up δ = 1e-6: nothing is left to convert at.
        #expect(RDPAccountant.epsilon(composing: Array(repeating: thresholded, count: 10), delta: 1e-6).epsilon == .infinity)
    }

    @Test func invalidThresholdCostsInfinity() {
        let bad = PrivacyMechanism.thresholded(base: .pureEpsilon(epsilon: 1), delta: 2)
        #expect(bad.rdp(orders: [2]).allSatisfy { $0 == .infinity })
        #expect(throws: VeilError.self) { try bad.validate() }
    }
}
