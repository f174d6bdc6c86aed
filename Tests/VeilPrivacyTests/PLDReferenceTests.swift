import Foundation
import Testing
@testable import VeilPrivacy

/// Known answers from Google's dp_accounting 0.6.0 PLD code (`scripts/reference/pld_reference.py`),
/// with the same discretisation interval (1e-4), tail truncation (1e-15) and constructions
/// (Connect-the-Dots for Gaussian and Laplace noise, privacy buckets for discrete noise).
///
/// The rule: within 1e-3 relative of dp_accounting, and never below it beyond floating-point rounding
/// — 1e-8 relative, and for δ also 1e-12 absolute (δ sums up to 10⁶ transformed masses, each rounded
/// to about 1e-16 × log₂ N; δ = 7e-7 was seen 2e-13 apart). Both sides evaluate the same discretised distribution,
/// but not bit for bit: glibc's `erfc` against SciPy's `ndtr`, δ(ε) in linear rather than log space
/// where that is exact to rounding, FFT lengths 2ᵏ against 5-smooth ones. Connect-the-Dots masses are
/// second differences of δ(ε) over a 1e-4 grid, so those rounding differences reach ~1e-10 relative in
/// ε (the largest seen: 7.6e-10). The discretisation itself, which makes both pessimistic, is orders of
/// magnitude larger. The comparison is with the PLD's own ε (`epsilonFromDistribution`); the
/// accountant may report less for pure ε-DP releases, where the sum of their ε's is smaller (checked in
/// `PLDAccountantTests`).
struct PLDReferenceTests {
    struct EpsilonCase: Decodable {
        let mechanisms: [PrivacyMechanism]
        let delta: Double
        let epsilon: Double
    }

    struct Reference: Decodable {
        let valueDiscretizationInterval: Double
        let tailMassTruncation: Double
        let epsilonAtDelta: [EpsilonCase]
        let deltaAtEpsilon: [EpsilonCase]

        enum CodingKeys: String, CodingKey {
            case valueDiscretizationInterval = "value_discretization_interval"
            case tailMassTruncation = "tail_mass_truncation"
            case epsilonAtDelta = "epsilon_at_delta"
            case deltaAtEpsilon = "delta_at_epsilon"
        }
    }

    static let reference: Reference = {
        let url = Bundle.module.url(forResource: "pld_reference", withExtension: "json", subdirectory: "Resources")!
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    /// Relative agreement required with dp_accounting.
    static let tolerance = 1e-3
    /// How far below dp_accounting floating-point rounding may put a value (relative).
    static let rounding = 1e-8

    /// Checks `actual` against dp_accounting's `expected`: never below it beyond rounding (`absolute`
    /// besides the relative `rounding`), and within tolerance.
    static func check(_ actual: Double, against expected: Double, absolute: Double = 0, _ label: String) {
        #expect(actual >= expected * (1 - rounding) - absolute, "below dp_accounting: \(label)")
        #expect(abs(actual - expected) <= tolerance * expected, "\(label)")
    }

    /// The accountants of the reference rows, one per list of mechanisms (rows share them across δ).
    static let accountants: [[PrivacyMechanism]: PLDAccountant] = {
        var accountants: [[PrivacyMechanism]: PLDAccountant] = [:]
        for row in reference.epsilonAtDelta + reference.deltaAtEpsilon where accountants[row.mechanisms] == nil {
            var accountant = PLDAccountant()
            accountant.compose(row.mechanisms)
            accountants[row.mechanisms] = accountant
        }
        return accountants
    }()

    @Test func parametersAreTheDefaults() {
        #expect(Self.reference.valueDiscretizationInterval == PLDParameters().valueDiscretizationInterval)
        #expect(Self.reference.tailMassTruncation == PLDParameters().tailMassTruncation)
    }

    @Test func tableCoversEveryMechanismAndCompositions() {
        let names = Set(Self.reference.epsilonAtDelta.flatMap { $0.mechanisms.map(\.name) })
        #expect(names == ["subsampled_gaussian", "laplace", "pure_epsilon", "discrete_laplace", "discrete_gaussian"])
        #expect(Self.reference.epsilonAtDelta.contains { Set($0.mechanisms.map(\.name)).count >= 4 })
        #expect(Self.reference.epsilonAtDelta.count >= 150)
    }

    @Test func epsilonWithinToleranceAndNeverBelow() {
        for row in Self.reference.epsilonAtDelta {
            let epsilon = Self.accountants[row.mechanisms]!.epsilonFromDistribution(delta: row.delta)
            Self.check(epsilon, against: row.epsilon, "\(row.mechanisms) δ=\(row.delta): \(epsilon) vs \(row.epsilon)")
        }
    }

    @Test func deltaWithinToleranceAndNeverBelow() {
        for row in Self.reference.deltaAtEpsilon {
            let delta = Self.accountants[row.mechanisms]!.delta(epsilon: row.epsilon)
            Self.check(delta, against: row.delta, absolute: 1e-12, "\(row.mechanisms) ε=\(row.epsilon): \(delta) vs \(row.delta)")
        }
    }

    /// The issue's example through the reference table.
    @Test func issueExampleIsInTheTable() throws {
        let row = try #require(Self.reference.epsilonAtDelta.first {
            $0.mechanisms == [.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1, steps: 1_000)] && $0.delta == 1e-5
        })
        #expect(abs(row.epsilon - 1.83) < 0.005)
    }
}
