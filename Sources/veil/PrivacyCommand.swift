import ArgumentParser
import VeilPrivacy

/// `veil privacy`: the privacy arithmetic on its own, for planning a training run or checking a claim.
struct PrivacyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy",
        abstract: "Compute ε for DP-SGD, or the noise needed for a target ε (Rényi DP accountant).",
        discussion: """
            Uses the RDP accountant of docs/privacy.md, which gives the same numbers as Google's dp_accounting: Poisson sampling at rate q, Gaussian noise multiplier σ, T steps, converted to (ε, δ)-DP. Neither command reads data or spends budget.

            Examples:
              veil privacy epsilon --sampling-rate 0.01 --noise-multiplier 1.1 --steps 10000 --delta 1e-5
              veil privacy noise --epsilon 3 --delta 1e-5 --sampling-rate 0.01 --steps 10000 --json
            """,
        subcommands: [Epsilon.self, Noise.self]
    )

    struct Epsilon: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print ε (and the Rényi order attaining it) for T steps of the subsampled Gaussian mechanism.",
            discussion: """
                Example:
                  veil privacy epsilon --sampling-rate 0.01 --noise-multiplier 1.1 --steps 10000 --delta 1e-5 --json
                """
        )

        @Option(help: ArgumentHelp("Noise multiplier σ: noise standard deviation / clipping norm (> 0).", valueName: "sigma"))
        var noiseMultiplier: Double
        @OptionGroup var run: DPSGDOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard noiseMultiplier.isFinite && noiseMultiplier > 0 else {
                throw ValidationError("--noise-multiplier must be a finite number > 0")
            }
        }

        func run() async throws {
            let mechanism = PrivacyMechanism.subsampledGaussian(
                samplingRate: run.samplingRate, noiseMultiplier: noiseMultiplier, steps: run.steps)
            let (epsilon, order) = RDPAccountant.epsilon(composing: [mechanism], delta: run.delta)
            if output.json {
                try Output.json(EpsilonReport(epsilon: epsilon, delta: run.delta, order: order))
            } else {
                print("ε = \(epsilon) at δ = \(run.delta) (Rényi order \(order))")
            }
        }
    }

    struct Noise: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the smallest noise multiplier σ that keeps T steps within a target ε.",
            discussion: """
                Bisection: the σ printed gives an ε at most the target and within 0.01 (and 1%) of it.

                Example:
                  veil privacy noise --epsilon 3 --delta 1e-5 --sampling-rate 0.01 --steps 10000 --json
                """
        )

        @Option(help: ArgumentHelp("Target ε (> 0).", valueName: "epsilon"))
        var epsilon: Double
        @OptionGroup var run: DPSGDOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard epsilon.isFinite && epsilon > 0 else { throw ValidationError("--epsilon must be a finite number > 0") }
        }

        func run() async throws {
            let calibration = try RDPAccountant.calibrateNoiseMultiplier(
                targetEpsilon: epsilon, delta: run.delta, samplingRate: run.samplingRate, steps: run.steps)
            if output.json {
                try Output.json(NoiseReport(calibration: calibration, delta: run.delta))
            } else {
                print("noise multiplier σ = \(calibration.noiseMultiplier) (ε = \(calibration.epsilon) at δ = \(run.delta), Rényi order \(calibration.order))")
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

/// `privacy epsilon --json`.
struct EpsilonReport: Encodable {
    let epsilon: Double
    let delta: Double
    let order: Double
}

/// `privacy noise --json`: the noise multiplier and the ε it achieves.
struct NoiseReport: Encodable {
    let noiseMultiplier: Double
    let epsilon: Double
    let delta: Double
    let order: Double

    init(calibration: NoiseCalibration, delta: Double) {
        noiseMultiplier = calibration.noiseMultiplier
        epsilon = calibration.epsilon
        order = calibration.order
        self.delta = delta
    }

    enum CodingKeys: String, CodingKey {
        case epsilon, delta, order
        case noiseMultiplier = "noise_multiplier"
    }
}
