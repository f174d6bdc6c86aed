#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The statistics of a one-run privacy audit (Steinke, Nasr & Jagielski 2023, *Privacy auditing with
/// one (1) training run*, NeurIPS; arXiv 2305.08846): m canaries, each included in the training data
/// independently with probability ½; the auditor guesses "in" or "out" for r of them and abstains on
/// the rest; v guesses are right.
///
/// If the training algorithm is (ε, δ)-DP, the number of right guesses is stochastically dominated
/// (up to δ) by Binomial(r, e^ε/(1 + e^ε)) — as if every guess were answered by ε-randomised response
/// (the paper's main theorem, and its extension to δ > 0). `pValue` is the paper's bound on
/// P[≥ v right guesses] under that hypothesis; `epsilonLowerBound` the largest ε it rejects at the
/// given confidence, by the paper's search.
///
/// Contract: the arithmetic follows the paper's reference code (`p_value_DP_audit`,
/// `get_eps_audit`) line by line, with the binomial terms in log space; `OneRunAuditBoundTests` holds
/// it to an independent SciPy computation of that code.
public enum OneRunAuditBound {
    /// The p-value of ≥ `correct` right guesses out of `guesses` among `canaries` canaries if the
    /// algorithm is (`epsilon`, `delta`)-DP: β + α·δ·2m, where β = P[Binomial(r, p) ≥ v] with
    /// p = 1/(1 + e^{−ε}) and α = max over 1 ≤ i ≤ v of P[v − i ≤ Binomial(r, p) < v]/i; capped at 1.
    ///
    /// Contract: 0 ≤ correct ≤ guesses ≤ canaries, epsilon ≥ 0, delta in [0, 1].
    public static func pValue(canaries: Int, guesses: Int, correct: Int, epsilon: Double, delta: Double) -> Double {
        precondition(0 <= correct && correct <= guesses && guesses <= canaries, "0 ≤ correct ≤ guesses ≤ canaries")
        precondition(epsilon >= 0 && delta >= 0 && delta <= 1, "ε ≥ 0, δ in [0, 1]")
        let success = 1 / (1 + exp(-epsilon))
        let logPMF = BinomialLogPMF(trials: guesses, success: success)
        // β = Σ_{k ≥ v} P[k], summed from the small end up.
        var beta = 0.0
        for k in stride(from: guesses, through: correct, by: -1) { beta += exp(logPMF(k)) }
        var alpha = 0.0
        var below = 0.0  // P[v − i ≤ Binomial < v]
        if correct >= 1 {
            for i in 1...correct {
                below += exp(logPMF(correct - i))
                if below > Double(i) * alpha { alpha = below / Double(i) }
            }
        }
        return min(beta + alpha * delta * 2 * Double(canaries), 1)
    }

    /// The lower bound on ε at confidence `confidence` (0.95: a p-value below 0.05): the ε found by the
    /// paper's search — raise an upper end in steps of 1 from 1 until its p-value reaches
    /// 1 − `confidence`, then bisect [0, upper] 30 times, keeping the lower end's p-value below it.
    /// 0 when even ε = 0 is not rejected.
    ///
    /// Contract: as `pValue`, and `confidence` in (0, 1).
    public static func epsilonLowerBound(
        canaries: Int, guesses: Int, correct: Int, delta: Double, confidence: Double = 0.95
    ) -> Double {
        precondition(confidence > 0 && confidence < 1, "confidence in (0, 1)")
        let level = 1 - confidence
        func rejected(_ epsilon: Double) -> Bool {
            pValue(canaries: canaries, guesses: guesses, correct: correct, epsilon: epsilon, delta: delta) < level
        }
        var lower = 0.0
        var upper = 1.0
        while rejected(upper) { upper += 1 }
        for _ in 0..<30 {
            let middle = (lower + upper) / 2
            if rejected(middle) { lower = middle } else { upper = middle }
        }
        return lower
    }
}

/// ln P[Binomial(trials, success) = k], through log-gamma (exact for k = 0 and k = trials).
private struct BinomialLogPMF {
    let trials: Int
    let logSuccess: Double
    let logFailure: Double
    let logGammaTrials: Double

    init(trials: Int, success: Double) {
        self.trials = trials
        logSuccess = log(success)
        logFailure = log1p(-success)
        logGammaTrials = LogSpace.logGamma(Double(trials) + 1)
    }

    func callAsFunction(_ k: Int) -> Double {
        let failures = trials - k
        let coefficient = logGammaTrials - LogSpace.logGamma(Double(k) + 1) - LogSpace.logGamma(Double(failures) + 1)
        // 0 · ln 0 is 0: a success probability of 1 gives P[trials] = 1.
        let successes = k == 0 ? 0 : Double(k) * logSuccess
        let misses = failures == 0 ? 0 : Double(failures) * logFailure
        return coefficient + successes + misses
    }
}
