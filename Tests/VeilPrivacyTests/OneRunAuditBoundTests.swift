import Foundation
import Testing
import VeilPrivacy
import VeilTestSupport

/// `OneRunAuditBound` against an independent computation: the paper's reference code run with SciPy's
/// binomial distribution (`scripts/reference/one_run_audit_bound.py`).
@Suite struct OneRunAuditBoundTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/reference/one_run_audit_bound.py").path

    /// (m, r, v, δ): all guesses right (where the bound is ≈ ln(r/3)), most right, chance level, no
    /// guesses, none right, and δ large enough for its term to matter.
    static let cases: [(m: Int, r: Int, v: Int, delta: Double)] = [
        (1000, 100, 100, 0), (1000, 100, 100, 1e-5), (2000, 400, 400, 1e-5), (2000, 400, 380, 1e-5),
        (2000, 800, 800, 1e-6), (5000, 1000, 990, 1e-5), (1000, 1000, 500, 1e-5), (1000, 200, 150, 0),
        (10, 0, 0, 0), (2000, 400, 0, 1e-5), (1000, 50, 50, 1e-3), (200, 20, 20, 0),
    ]

    private struct Answer: Decodable {
        let m: Int
        let r: Int
        let v: Int
        let delta: Double
        let epsilon_lower_bound: Double
        let p_value_at: [String: Double]
    }

    @Test func boundAndPValuesMatchTheReferenceCodeRunWithSciPy() throws {
        let input = "[" + Self.cases.map { "[\($0.m), \($0.r), \($0.v), \($0.delta)]" }.joined(separator: ", ") + "]"
        let run = try runPython([Self.script, input])
        try #require(run.status == 0, "\(run.output)")
        let answers = try JSONDecoder().decode([Answer].self, from: Data(run.output.utf8))
        try #require(answers.count == Self.cases.count)
        for answer in answers {
            let bound = OneRunAuditBound.epsilonLowerBound(canaries: answer.m, guesses: answer.r, correct: answer.v, delta: answer.delta)
            // The same bisection on the same p-values: equal unless a p-value sits within rounding of 0.05.
            #expect(abs(bound - answer.epsilon_lower_bound) <= 1e-9, "m \(answer.m) r \(answer.r) v \(answer.v)")
            for (epsilon, expected) in answer.p_value_at {
                let p = OneRunAuditBound.pValue(
                    canaries: answer.m, guesses: answer.r, correct: answer.v, epsilon: Double(epsilon)!, delta: answer.delta)
                #expect(abs(p - expected) <= 1e-9 * max(expected, 1e-300) + 1e-300, "m \(answer.m) r \(answer.r) v \(answer.v) ε \(epsilon): \(p) vs \(expected)")
            }
        }
    }

    /// With every one of r guesses right and δ = 0, the bound solves ((1 + e^{−ε})⁻¹)^r = 0.05, i.e.
    /// ε = −ln((0.05)^{−1/r} − 1) ≈ ln(r/3) — the paper's rule of thumb, computed in closed form.
    @Test(arguments: [20, 100, 400, 2000])
    func allGuessesRightMatchesTheClosedForm(guesses: Int) {
        let exact = -log(pow(0.05, -1 / Double(guesses)) - 1)
        let bound = OneRunAuditBound.epsilonLowerBound(canaries: 2 * guesses, guesses: guesses, correct: guesses, delta: 0)
        #expect(abs(bound - exact) < 1e-6)
        #expect(abs(bound - log(Double(guesses) / 3)) < 0.1)
    }

    /// More right guesses never lower the bound; δ never raises it.
    @Test func boundIsMonotone() {
        var previous = 0.0
        for correct in stride(from: 200, through: 400, by: 20) {
            let bound = OneRunAuditBound.epsilonLowerBound(canaries: 2000, guesses: 400, correct: correct, delta: 0)
            #expect(bound >= previous)
            #expect(OneRunAuditBound.epsilonLowerBound(canaries: 2000, guesses: 400, correct: correct, delta: 1e-4) <= bound)
            previous = bound
        }
        #expect(previous > 4.5)
    }
}
