import VeilCore
import VeilPrivacy

/// The settings of a one-run privacy audit that do not come from the training run.
public struct OneRunAuditSettings: Sendable, Hashable {
    /// m: the canaries, each drawn into the run with probability ½.
    public var canaries: Int
    /// k: the auditor guesses "in" for the k highest scores and "out" for the k lowest (r = 2k
    /// guesses), and abstains on the rest.
    public var guessesPerSide: Int
    /// δ of the hypothesis the audit tests ((ε, δ)-DP).
    public var delta: Double
    /// The confidence of the lower bound (0.95).
    public var confidence: Double
    /// Each canary's gradient norm as a multiple of the clipping norm, before clipping (100: far above
    /// C, so a run that does not clip shows it).
    public var canaryGradientScale: Double

    /// m canaries and k = m/5 guesses per side (r = 0.4·m), δ, 95 % confidence, canary gradients 100·C.
    public init(canaries: Int, delta: Double, guessesPerSide: Int? = nil, confidence: Double = 0.95, canaryGradientScale: Double = 100) {
        self.canaries = canaries
        self.guessesPerSide = guessesPerSide ?? canaries / 5
        self.delta = delta
        self.confidence = confidence
        self.canaryGradientScale = canaryGradientScale
    }

    /// Throws `invalidInput` naming the setting that is out of range.
    public func validate() throws(VeilError) {
        guard canaries >= 10 && canaries <= 1_000_000 else {
            throw VeilError(.invalidInput, field: "canaries", "must be between 10 and 1000000")
        }
        guard guessesPerSide >= 1 && 2 * guessesPerSide <= canaries else {
            throw VeilError(.invalidInput, field: "guesses", "must be at least 1 per side and at most half the canaries")
        }
        guard delta >= 0 && delta < 1 else { throw VeilError(.invalidInput, field: "delta", "must be in [0, 1)") }
        guard confidence > 0 && confidence < 1 else {
            throw VeilError(.invalidInput, field: "confidence", "must be in (0, 1)")
        }
        guard canaryGradientScale >= 1 && canaryGradientScale.isFinite else {
            throw VeilError(.invalidInput, field: "canary_gradient_scale", "must be a finite number ≥ 1")
        }
    }
}

/// What a one-run audit found: the guesses, how many were right, and the lower bound on ε.
public struct OneRunAuditResult: Sendable, Hashable, Codable {
    /// How the scores were formed: `white_box_dirac_canaries` (see `OneRunAudit`).
    public let setting: String
    public let canaries: Int
    /// Canaries drawn into the run.
    public let includedCanaries: Int
    /// r = guesses "in" + guesses "out".
    public let guesses: Int
    /// v: right guesses.
    public let correctGuesses: Int
    public let guessesIn: Int
    public let correctIn: Int
    public let guessesOut: Int
    public let correctOut: Int
    public let delta: Double
    public let confidence: Double
    /// The ε this run is shown to exceed at `confidence`: no (ε′, δ)-DP algorithm with ε′ below it
    /// would produce this many right guesses but with probability below 1 − confidence.
    public let epsilonLowerBound: Double
    /// The run's DP-SGD parameters (what the accountant's ε is for).
    public let samplingRate: Double
    public let noiseMultiplier: Double
    public let steps: Int

    enum CodingKeys: String, CodingKey {
        case setting, canaries, guesses, delta, confidence, steps
        case includedCanaries = "included_canaries"
        case correctGuesses = "correct_guesses"
        case guessesIn = "guesses_in"
        case correctIn = "correct_in"
        case guessesOut = "guesses_out"
        case correctOut = "correct_out"
        case epsilonLowerBound = "epsilon_lower_bound"
        case samplingRate = "sampling_rate"
        case noiseMultiplier = "noise_multiplier"
    }
}

/// The one-run privacy audit of Steinke, Nasr & Jagielski (2023) on Veil's DP-SGD, white-box with
/// Dirac gradient canaries — the paper's strongest setting.
///
/// 1. Each of m canaries is drawn into the training data independently with probability ½.
/// 2. One run of `DPSGD.train` — its Poisson sampler, per-example clipping, Gaussian noise, scaling and
///    optimiser, unchanged — on the base model's examples plus the drawn canaries (`CanaryModel`).
///    The configuration's `population` must count at least the base examples and *every* canary (more
///    when other users count in n, as registered users without a labelled example do in training), so
///    q = B/n does not depend on the draw and σ can be calibrated before it.
/// 3. Canary c's score is the sum over the steps of its coordinate of the privatised gradient (the
///    noised, scaled sum the optimiser receives), negated: its gradient points along that coordinate
///    alone, so the score is its clipped contributions plus that coordinate's noise and nothing else.
///    Every step's privatised gradient is what DP-SGD's accounting covers the release of (the final
///    model is a function of them), so this is a white-box observer the guarantee must withstand; it
///    does not depend on the optimiser — Adam, which `veil train` uses, divides each coordinate by its
///    own running scale, which would hide an unclipped gradient from a score read off the final model.
/// 4. The k highest scores are guessed "in", the k lowest "out"; `OneRunAuditBound` turns the number of
///    right guesses into a lower bound on ε at the settings' confidence.
///
/// Why white-box: DP-SGD's guarantee is for the released parameters whatever the per-example gradients
/// are, so an example whose gradient is a fixed large vector is the worst case it must withstand, and
/// reading its coordinate of every step's gradient is the most an observer of the run can learn about it. Black-box
/// canaries (ordinary users, scored by the model's loss on them) give far lower bounds for the same run
/// (the paper's §7), and would not catch σ scaled down tenfold at Veil's scales.
public enum OneRunAudit {
    /// The setting recorded in results.
    public static let setting = "white_box_dirac_canaries"

    /// The population a run with `examples` base examples and `settings.canaries` canaries must be
    /// configured (and its σ calibrated) with.
    public static func population(examples: Int, settings: OneRunAuditSettings) -> Int {
        examples + settings.canaries
    }

    /// Runs the audit: draws the canaries with `inclusion`, trains with `sampling` and `noise` as
    /// `DPSGD.train` does, guesses and bounds ε. `onEpoch` as `DPSGD.train`'s.
    ///
    /// Throws `invalidInput` when the settings or the configuration (its `population` must be at least
    /// `population(examples:settings:)`) do not fit, and whatever `DPSGD.train` throws.
    public static func run<
        Model: TrainableModel, Inclusion: RandomNumberGenerator, Sampling: RandomNumberGenerator, Noise: GaussianSource
    >(
        _ model: Model, on data: Model.Data, configuration: DPSGDConfiguration, settings: OneRunAuditSettings,
        inclusion: inout Inclusion, sampling: inout Sampling, noise: inout Noise, workers: Int? = nil,
        onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> OneRunAuditResult {
        try run(
            model, on: data, configuration: configuration, settings: settings, inclusion: &inclusion, sampling: &sampling,
            noise: &noise, workers: workers, fault: nil, onEpoch: onEpoch)
    }

    /// `run` on a DP-SGD broken by `fault` (the tests' hook; internal, as `DPSGDFault`).
    static func run<
        Model: TrainableModel, Inclusion: RandomNumberGenerator, Sampling: RandomNumberGenerator, Noise: GaussianSource
    >(
        _ model: Model, on data: Model.Data, configuration: DPSGDConfiguration, settings: OneRunAuditSettings,
        inclusion: inout Inclusion, sampling: inout Sampling, noise: inout Noise, workers: Int? = nil,
        fault: DPSGDFault?, onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> OneRunAuditResult {
        try settings.validate()
        let population = population(examples: data.exampleCount, settings: settings)
        guard let configured = configuration.population, configured >= population else {
            throw VeilError(
                .invalidInput, field: "population", "must be at least the examples plus every canary (\(population))")
        }
        let included = (0..<settings.canaries).map { _ in inclusion.next() & 1 == 1 }
        let canaryModel = CanaryModel(
            base: model, canaryCount: settings.canaries,
            gradientNorm: settings.canaryGradientScale * configuration.clippingNorm)
        let canaryData = CanaryData(base: data, includedCanaries: included.indices.filter { included[$0] })
        // Score: −Σ over steps of the canary's coordinate of the privatised gradient.
        var scores = [Double](repeating: 0, count: settings.canaries)
        let firstCanary = model.parameters.count
        let trained = try DPSGD.train(
            canaryModel, on: canaryData, configuration: configuration, sampling: &sampling, noise: &noise,
            workers: workers, fault: fault,
            onStep: { gradient in
                for canary in scores.indices { scores[canary] -= gradient[firstCanary + canary] }
            },
            onEpoch: onEpoch)
        let guesses = Guesses(scores: scores, perSide: settings.guessesPerSide)
        let correctIn = guesses.guessedIn.filter { included[$0] }.count
        let correctOut = guesses.guessedOut.filter { !included[$0] }.count
        let bound = OneRunAuditBound.epsilonLowerBound(
            canaries: settings.canaries, guesses: 2 * settings.guessesPerSide, correct: correctIn + correctOut,
            delta: settings.delta, confidence: settings.confidence)
        return OneRunAuditResult(
            setting: setting, canaries: settings.canaries, includedCanaries: canaryData.includedCanaries.count,
            guesses: 2 * settings.guessesPerSide, correctGuesses: correctIn + correctOut,
            guessesIn: settings.guessesPerSide, correctIn: correctIn, guessesOut: settings.guessesPerSide,
            correctOut: correctOut, delta: settings.delta, confidence: settings.confidence, epsilonLowerBound: bound,
            samplingRate: trained.report.samplingRate, noiseMultiplier: configuration.noiseMultiplier,
            steps: trained.report.steps)
    }
}

/// The auditor's guesses: the canaries with the `perSide` highest scores "in", the `perSide` lowest
/// "out". Ties are broken by canary number, so the guesses depend only on the scores.
struct Guesses {
    let guessedIn: ArraySlice<Int>
    let guessedOut: ArraySlice<Int>

    init(scores: [Double], perSide: Int) {
        let order = scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
        guessedOut = order.prefix(perSide)
        guessedIn = order.suffix(perSide)
    }
}
