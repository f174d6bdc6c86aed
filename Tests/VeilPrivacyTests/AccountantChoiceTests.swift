import Foundation
import Testing
import VeilCore
@testable import VeilPrivacy

struct PLDCalibrationTests {
    @Test(arguments: [(0.0108, 465, 1e-6, 2.0), (0.01, 1_000, 1e-5, 1.0), (1.0, 1, 1e-5, 3.0)])
    func calibrationMeetsTargetWithinTolerance(q: Double, steps: Int, delta: Double, target: Double) throws {
        let method = AccountingMethod.pld(PLDParameters())
        let result = try NoiseCalibration.calibrate(
            targetEpsilon: target, delta: delta, samplingRate: q, steps: steps, method: method)
        #expect(result.accountant == method && result.order == nil)
        #expect(result.epsilon <= target)
        #expect(result.epsilon >= target - min(0.01, target / 100))
        let run = PrivacyMechanism.subsampledGaussian(samplingRate: q, noiseMultiplier: result.noiseMultiplier, steps: steps)
        #expect(PLDAccountant.epsilon(composing: [run], delta: delta) == result.epsilon)
        let less = PrivacyMechanism.subsampledGaussian(samplingRate: q, noiseMultiplier: result.noiseMultiplier * 0.99, steps: steps)
        #expect(PLDAccountant.epsilon(composing: [less], delta: delta) > target - min(0.01, target / 100))
        // The tighter accountant needs less noise for the same target.
        let rdp = try NoiseCalibration.calibrate(targetEpsilon: target, delta: delta, samplingRate: q, steps: steps, method: .rdp)
        #expect(result.noiseMultiplier < rdp.noiseMultiplier)
    }

    @Test func calibrationRejectsBadInput() {
        #expect(throws: VeilError(.invalidInput, field: "delta", "must be in (0, 1)")) {
            try NoiseCalibration.calibrate(targetEpsilon: 1, delta: 0, samplingRate: 0.1, steps: 10, method: .pld(PLDParameters()))
        }
        #expect(throws: VeilError(.invalidInput, field: "steps", "must be at least 1")) {
            try NoiseCalibration.calibrate(targetEpsilon: 1, delta: 1e-5, samplingRate: 0.1, steps: 0, method: .pld(PLDParameters()))
        }
    }
}

struct AccountantChoiceTests {
    @Test func eachMethodGivesItsAccountantsNumbers() {
        let mechanisms: [PrivacyMechanism] = [.subsampledGaussian(samplingRate: 0.02, noiseMultiplier: 1.2, steps: 300), .laplace(epsilon: 0.1, count: 3)]
        var rdp = PrivacyAccountant(.rdp)
        rdp.compose(mechanisms)
        let direct = RDPAccountant.epsilon(composing: mechanisms, delta: 1e-6)
        #expect(rdp.epsilon(delta: 1e-6) == direct.epsilon)
        #expect(rdp.optimalOrder(delta: 1e-6) == direct.order)
        var pld = PrivacyAccountant(AccountingMethod(.pld))
        pld.compose(mechanisms)
        #expect(pld.epsilon(delta: 1e-6) == PLDAccountant.epsilon(composing: mechanisms, delta: 1e-6))
        #expect(pld.optimalOrder(delta: 1e-6) == nil)
        #expect(pld.delta(epsilon: 1) == {
            var accountant = PLDAccountant()
            accountant.compose(mechanisms)
            return accountant.delta(epsilon: 1)
        }())
        #expect(PrivacyAccountant.epsilon(composing: mechanisms, delta: 1e-6, method: .rdp) == direct.epsilon)
    }

    @Test func methodJSONNamesTheAccountantAndItsParameters() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let pld = String(decoding: try encoder.encode(AccountingMethod(.pld)), as: UTF8.self)
        #expect(pld == #"{"accountant":"pld","log_mass_truncation_bound":-50,"tail_mass_truncation":1e-15,"value_discretization_interval":0.0001}"#)
        let rdp = String(decoding: try encoder.encode(AccountingMethod.rdp), as: UTF8.self)
        #expect(rdp == #"{"accountant":"rdp","orders":"dp_accounting_default"}"#)
        for method in [AccountingMethod.rdp, .pld(PLDParameters(valueDiscretizationInterval: 5e-4, tailMassTruncation: 0))] {
            #expect(try JSONDecoder().decode(AccountingMethod.self, from: encoder.encode(method)) == method)
        }
    }

    @Test(arguments: [
        #"{"accountant":"moments"}"#,
        #"{"accountant":"rdp"}"#,
        #"{"accountant":"rdp","orders":[2,3]}"#,
        #"{"accountant":"rdp","orders":"dp_accounting_default","extra":1}"#,
        #"{"accountant":"pld","value_discretization_interval":0.0001,"tail_mass_truncation":1e-15}"#,
        #"{"accountant":"pld","value_discretization_interval":0,"tail_mass_truncation":1e-15,"log_mass_truncation_bound":-50}"#,
        #"{"accountant":"pld","value_discretization_interval":0.0001,"tail_mass_truncation":0.5,"log_mass_truncation_bound":-50}"#,
        #"{"accountant":"pld","value_discretization_interval":0.0001,"tail_mass_truncation":1e-15,"log_mass_truncation_bound":-50,"orders":"dp_accounting_default"}"#,
    ])
    func methodJSONRejectsUnknownAndOutOfRange(json: String) {
        #expect(throws: (any Error).self) { try JSONDecoder().decode(AccountingMethod.self, from: Data(json.utf8)) }
    }
}

struct DPSGDExplanationTests {
    @Test func explainsBothAccountantsAtTheGivenNoise() throws {
        let explanation = try DPSGDExplanation.explain(samplingRate: 0.01, steps: 1_000, delta: 1e-5, noiseMultiplier: 1)
        #expect(explanation.estimates.map(\.accountant.kind) == [.pld, .rdp])
        let run = [PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1, steps: 1_000)]
        #expect(explanation.estimates[0].epsilon == PLDAccountant.epsilon(composing: run, delta: 1e-5))
        #expect(explanation.estimates[1].epsilon == RDPAccountant.epsilon(composing: run, delta: 1e-5).epsilon)
        #expect(explanation.estimates[1].order != nil && explanation.estimates[0].order == nil)
        #expect(explanation.calibrations == nil && explanation.targetEpsilon == nil)
    }

    @Test func calibratesWithTheChosenAccountantAndShowsTheOther() throws {
        let explanation = try DPSGDExplanation.explain(samplingRate: 0.0108, steps: 465, delta: 1e-6, targetEpsilon: 2, accountant: .rdp)
        let calibrations = try #require(explanation.calibrations)
        #expect(calibrations.map(\.accountant.kind) == [.pld, .rdp])
        #expect(explanation.noiseMultiplier == calibrations[1].noiseMultiplier)
        #expect(explanation.calibratedWith == .rdp && explanation.targetEpsilon == 2)
        #expect(calibrations[0].noiseMultiplier < calibrations[1].noiseMultiplier)
        // At the RDP σ, PLD proves less than the target.
        #expect(explanation.estimates[0].epsilon < explanation.estimates[1].epsilon)
    }

    @Test func rejectsBadParameters() {
        #expect(throws: VeilError(.invalidInput, field: "sampling_rate", "must be in (0, 1]")) {
            try DPSGDExplanation.explain(samplingRate: 0, steps: 10, delta: 1e-5, noiseMultiplier: 1)
        }
        #expect(throws: VeilError(.invalidInput, field: "delta", "must be in (0, 1)")) {
            try DPSGDExplanation.explain(samplingRate: 0.1, steps: 10, delta: 1, noiseMultiplier: 1)
        }
    }
}
