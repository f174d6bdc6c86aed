import ArgumentParser
import Foundation
import VeilCore
import VeilPolicy
import VeilPrivacy

/// `veil privacy`: the privacy arithmetic on its own, for planning a training run or checking a claim.
struct PrivacyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy",
        abstract: "Compute ε for DP-SGD, or the noise needed for a target ε (PLD or RDP accountant).",
        discussion: """
            Poisson sampling at rate q, Gaussian noise multiplier σ, T steps, converted to (ε, δ)-DP by the accountant of docs/privacy.md: `pld` (privacy loss distributions; tight and never below the true ε) or `rdp` (Rényi DP; looser). Both give the numbers of Google's dp_accounting. The default is the policy's privacy.accountant (the built-in pld when there is no policy file). Neither command reads data or spends budget.

            Examples:
              veil privacy epsilon --sampling-rate 0.01 --noise-multiplier 1 --steps 1000 --delta 1e-5
              veil privacy epsilon --sampling-rate 0.01 --noise-multiplier 1 --steps 1000 --delta 1e-5 --accountant rdp --json
              veil privacy noise --epsilon 2 --delta 1e-6 --sampling-rate 0.0108 --steps 465 --explain
              veil privacy audit --task purchase --epsilon 4 --seed 1

            `veil privacy audit` checks the DP-SGD implementation empirically: one training run on generated shoppers with canaries, and a lower bound on ε beside the claim.
            """,
        subcommands: [Epsilon.self, Noise.self, PrivacyAuditCommand.self]
    )

    struct Epsilon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print ε for T steps of the subsampled Gaussian mechanism.",
            discussion: """
                --explain prints σ, q, T and ε under both accountants.

                Examples:
                  veil privacy epsilon --sampling-rate 0.01 --noise-multiplier 1 --steps 1000 --delta 1e-5 --json
                  veil privacy epsilon --sampling-rate 0.01 --noise-multiplier 1 --steps 1000 --delta 1e-5 --explain
                """
        )

        @Option(help: ArgumentHelp("Noise multiplier σ: noise standard deviation / clipping norm (> 0).", valueName: "sigma"))
        var noiseMultiplier: Double
        @OptionGroup var run: DPSGDOptions
        @OptionGroup var accounting: AccountantOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard noiseMultiplier.isFinite && noiseMultiplier > 0 else {
                throw ValidationError("--noise-multiplier must be a finite number > 0")
            }
        }

        func run() async throws {
            if accounting.explain {
                let explanation = try DPSGDExplanation.explain(
                    samplingRate: run.samplingRate, steps: run.steps, delta: run.delta, noiseMultiplier: noiseMultiplier)
                return try PrivacyText.print(explanation, json: output.json)
            }
            let method = try accounting.method()
            var accountant = PrivacyAccountant(method)
            accountant.compose(
                .subsampledGaussian(samplingRate: run.samplingRate, noiseMultiplier: noiseMultiplier, steps: run.steps))
            let report = EpsilonReport(
                accountant: method, epsilon: accountant.epsilon(delta: run.delta), delta: run.delta,
                order: accountant.optimalOrder(delta: run.delta), noiseMultiplier: noiseMultiplier,
                samplingRate: run.samplingRate, steps: run.steps)
            if output.json {
                try Output.json(report)
            } else {
                print("ε = \(report.epsilon) at δ = \(run.delta) (\(PrivacyText.describe(method, order: report.order)))")
            }
        }
    }

    struct Noise: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the smallest noise multiplier σ that keeps T steps within a target ε.",
            discussion: """
                Bisection: the σ printed gives an ε at most the target and within 0.01 (and 1%) of it. --explain also prints the σ the other accountant would need and ε under both.

                Examples:
                  veil privacy noise --epsilon 3 --delta 1e-5 --sampling-rate 0.01 --steps 10000 --json
                  veil privacy noise --epsilon 2 --delta 1e-6 --sampling-rate 0.0108 --steps 465 --explain
                """
        )

        @Option(help: ArgumentHelp("Target ε (> 0).", valueName: "epsilon"))
        var epsilon: Double
        @OptionGroup var run: DPSGDOptions
        @OptionGroup var accounting: AccountantOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard epsilon.isFinite && epsilon > 0 else { throw ValidationError("--epsilon must be a finite number > 0") }
        }

        func run() async throws {
            let method = try accounting.method()
            if accounting.explain {
                let explanation = try DPSGDExplanation.explain(
                    samplingRate: run.samplingRate, steps: run.steps, delta: run.delta, targetEpsilon: epsilon,
                    accountant: method.kind)
                return try PrivacyText.print(explanation, json: output.json)
            }
            let calibration = try NoiseCalibration.calibrate(
                targetEpsilon: epsilon, delta: run.delta, samplingRate: run.samplingRate, steps: run.steps, method: method)
            if output.json {
                try Output.json(NoiseReport(calibration: calibration, targetEpsilon: epsilon, run: run))
            } else {
                print(
                    "noise multiplier σ = \(calibration.noiseMultiplier) (ε = \(calibration.epsilon) at δ = \(run.delta), "
                        + "\(PrivacyText.describe(method, order: calibration.order)))")
            }
        }
    }
}

/// The DP-SGD run shared by `privacy epsilon` and `privacy noise`.
struct DPSGDOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Poisson sampling rate q: the chance each user is in a batch, in (0, 1].", valueName: "q"))
    var samplingRate: Double
    @Option(help: ArgumentHelp("Number of training steps T (≥ 1).", valueName: "steps"))
    var steps: Int
    @Option(help: ArgumentHelp("δ of the (ε, δ) guarantee, in (0, 1).", valueName: "delta"))
    var delta: Double

    func validate() throws {
        guard samplingRate > 0 && samplingRate <= 1 else { throw ValidationError("--sampling-rate must be in (0, 1]") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard delta > 0 && delta < 1 else { throw ValidationError("--delta must be in (0, 1)") }
    }
}

extension AccountantKind: ExpressibleByArgument {}

/// `--accountant pld|rdp` (default: the policy's `privacy.accountant`) and `--explain`.
struct AccountantOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The accountant: pld or rdp (default: privacy.accountant of the policy, or pld without a policy file).",
        valueName: "name"))
    var accountant: AccountantKind?
    @Flag(help: "Print σ, q, steps and ε under both accountants (spends nothing).")
    var explain = false
    @OptionGroup var policy: PolicyOptions

    /// The accountant named by `--accountant`, else by the policy. A policy named with `--policy` or
    /// `VEIL_POLICY` must load; the default path is used only when the file is there.
    func method() throws -> AccountingMethod {
        if let accountant { return AccountingMethod(accountant) }
        let path = policy.policyPath
        if policy.explicitPath == nil && !FileManager.default.fileExists(atPath: path) {
            return AccountingMethod(Policy().privacy.accountant)
        }
        return AccountingMethod(try PolicyLoader.load(path: path).policy.privacy.accountant)
    }
}

/// Text and JSON for the privacy commands' results.
enum PrivacyText {
    /// "PLD, value discretisation interval 0.0001" / "RDP, Rényi order 4.7".
    static func describe(_ method: AccountingMethod, order: Double?) -> String {
        switch method {
        case let .pld(parameters): "PLD accountant, value discretisation interval \(parameters.valueDiscretizationInterval)"
        case .rdp: "RDP accountant" + (order.map { ", Rényi order \($0)" } ?? "")
        }
    }

    /// Prints an explanation: the run's parameters, then ε (and for a target, σ) under each accountant.
    static func print(_ explanation: DPSGDExplanation, json: Bool) throws {
        if json { return try Output.json(explanation) }
        let run = "q = \(number(explanation.samplingRate))   steps = \(explanation.steps)   δ = \(explanation.delta)"
        Swift.print("run        \(run)")
        var sigma = number(explanation.noiseMultiplier)
        if let target = explanation.targetEpsilon, let chosen = explanation.calibratedWith {
            sigma += "   (calibrated with \(name(chosen)) to ε = \(number(target)))"
        }
        Swift.print("σ          \(sigma)")
        for release in explanation.alongside ?? [] {
            // A training run's private evaluation, paid in the same spend.
            if case let .discreteGaussian(evaluationSigma, _, _) = release {
                Swift.print("evaluation discrete Gaussian σ = \(number(evaluationSigma)) on the holdout histogram, composed with the steps (ε below is the whole run)")
            } else {
                Swift.print("alongside  \(release.name), composed with the steps (ε below is the whole run)")
            }
        }
        let epsilon = EpsilonFormat(explanation.estimates.map(\.epsilon) + (explanation.calibrations ?? []).map(\.epsilon))
        for estimate in explanation.estimates {
            Swift.print("ε \(name(estimate.accountant.kind))      \(epsilon(estimate.epsilon))   (\(describe(estimate.accountant, order: estimate.order)))")
        }
        for calibration in explanation.calibrations ?? [] {
            Swift.print("σ for \(name(calibration.accountant.kind))  \(number(calibration.noiseMultiplier))   (ε = \(epsilon(calibration.epsilon)))")
        }
    }

    private static func name(_ kind: AccountantKind) -> String { kind.rawValue.uppercased() }

    private static func number(_ value: Double) -> String { String(format: "%.6g", value) }
}

/// `privacy epsilon --json`.
struct EpsilonReport: Encodable {
    let accountant: AccountingMethod
    let epsilon: Double
    let delta: Double
    /// The Rényi order attaining ε (RDP only).
    let order: Double?
    let noiseMultiplier: Double
    let samplingRate: Double
    let steps: Int

    enum CodingKeys: String, CodingKey {
        case accountant, epsilon, delta, order, steps
        case noiseMultiplier = "noise_multiplier"
        case samplingRate = "sampling_rate"
    }
}

/// `privacy noise --json`: the noise multiplier and the ε it achieves.
struct NoiseReport: Encodable {
    let accountant: AccountingMethod
    let noiseMultiplier: Double
    let epsilon: Double
    let targetEpsilon: Double
    let delta: Double
    /// The Rényi order attaining ε (RDP only).
    let order: Double?
    let samplingRate: Double
    let steps: Int

    init(calibration: NoiseCalibration, targetEpsilon: Double, run: DPSGDOptions) {
        accountant = calibration.accountant
        noiseMultiplier = calibration.noiseMultiplier
        epsilon = calibration.epsilon
        order = calibration.order
        self.targetEpsilon = targetEpsilon
        delta = run.delta
        samplingRate = run.samplingRate
        steps = run.steps
    }

    enum CodingKeys: String, CodingKey {
        case accountant, epsilon, delta, order, steps
        case noiseMultiplier = "noise_multiplier"
        case targetEpsilon = "target_epsilon"
        case samplingRate = "sampling_rate"
    }
}
