import VeilCore

/// Settings for a DP-SGD run. Calibrating `noiseMultiplier` to a target (ε, δ) is the accountant's job;
/// the trainer takes σ, C and q as given and reports them.
public struct DPSGDConfiguration: Sendable, Hashable, Codable {
    /// σ: noise standard deviation as a multiple of `clippingNorm`. 0 gives no privacy (testing only).
    public var noiseMultiplier: Double
    /// C: each example's gradient is scaled down to L2 norm at most C.
    public var clippingNorm: Double
    /// Expected batch size B; the sampling rate is q = B / n.
    public var expectedBatchSize: Int
    /// Passes over the data; each epoch is round(n / B) steps.
    public var epochs: Int
    public var optimizer: Optimizer
    /// The public population size n that q and the step count are computed from, when it differs from
    /// the number of rows trained on (e.g. n = every registered user, while only the training split of
    /// users with events is in the data). Rows are still each sampled with probability q = B / n, so the
    /// subsampled-Gaussian guarantee for (q, σ, steps) holds; the noisy sum is divided by B = q·n.
    /// `nil`: n is the number of rows.
    public var population: Int?

    public init(
        noiseMultiplier: Double, clippingNorm: Double, expectedBatchSize: Int, epochs: Int,
        optimizer: Optimizer = .sgd(learningRate: 0.1, momentum: 0.9), population: Int? = nil
    ) {
        self.noiseMultiplier = noiseMultiplier
        self.clippingNorm = clippingNorm
        self.expectedBatchSize = expectedBatchSize
        self.epochs = epochs
        self.optimizer = optimizer
        self.population = population
    }

    /// q = B / n (n = `population` when set).
    public func samplingRate(exampleCount: Int) -> Double {
        Double(expectedBatchSize) / Double(population ?? exampleCount)
    }

    /// round(n / B), at least 1 (n = `population` when set).
    public func stepsPerEpoch(exampleCount: Int) -> Int {
        max(1, Int((Double(population ?? exampleCount) / Double(expectedBatchSize)).rounded()))
    }

    /// Total steps: epochs × stepsPerEpoch. This is the composition count the accountant needs.
    public func steps(exampleCount: Int) -> Int {
        epochs * stepsPerEpoch(exampleCount: exampleCount)
    }

    func validate(exampleCount: Int) throws {
        guard noiseMultiplier >= 0, noiseMultiplier.isFinite else {
            throw VeilError(.invalidInput, field: "noiseMultiplier", "must be a finite number ≥ 0")
        }
        guard clippingNorm > 0, clippingNorm.isFinite else {
            throw VeilError(.invalidInput, field: "clippingNorm", "must be a finite number > 0")
        }
        if let population, population < exampleCount {
            throw VeilError(.invalidInput, field: "population", "must be at least the number of examples")
        }
        guard expectedBatchSize >= 1, expectedBatchSize <= (population ?? exampleCount) else {
            throw VeilError(
                .invalidInput, field: "expectedBatchSize", "must be between 1 and the number of examples")
        }
        guard epochs >= 1 else { throw VeilError(.invalidInput, field: "epochs", "must be at least 1") }
    }
}

/// Differentially private SGD (Abadi et al. 2016) with Poisson sampling and per-example clipping, for
/// any `TrainableModel`.
///
/// Each step:
/// 1. every example joins the batch independently with probability q = B / n;
/// 2. a forward and backward pass give each example's gradient norm ‖g_i‖ over every parameter, exactly
///    (each layer contributes its own part; see `Layer`), the examples split across cores;
/// 3. example i is weighted by c_i = min(1, C / ‖g_i‖) and Σ_i c_i g_i is accumulated — every term has
///    norm ≤ C;
/// 4. Gaussian noise N(0, σ²C²) is added to each coordinate of the sum, which is divided by the
///    *expected* batch size q·n (not the realised one, whose size would itself leak), and
/// 5. the optimiser takes a step. A step whose sample is empty still adds noise and updates.
///
/// With one example per user, the released parameters are (ε, δ)-DP per user for the (ε, δ) the
/// accountant gives for the subsampled Gaussian mechanism with (q, σ, steps) from the report.
public enum DPSGD {
    /// Trains `model` on `data`. `sampling` draws the Poisson samples; `noise` draws the Gaussian noise
    /// (in production both from a CSPRNG-keyed generator). With the same generators' state, data and
    /// configuration the result is bitwise identical. `onEpoch` runs after each epoch (see
    /// `EpochProgress` for why its loss must not be released).
    ///
    /// `workers` threads share each step (default: every core); the result does not depend on how many
    /// (see `TrainingEngine`).
    ///
    /// Throws `VeilError.invalidInput` when the configuration or data does not fit.
    public static func train<Model: TrainableModel, Sampling: RandomNumberGenerator, Noise: GaussianSource>(
        _ model: Model, on data: Model.Data, configuration: DPSGDConfiguration,
        sampling: inout Sampling, noise: inout Noise, workers: Int? = nil,
        onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> Trained<Model> {
        try train(
            model, on: data, configuration: configuration, sampling: &sampling, noise: &noise, workers: workers,
            fault: nil, onEpoch: onEpoch)
    }

    /// `train`, with `onStep` given each step's privatised gradient — noised and scaled, what the
    /// optimiser receives, and what DP-SGD's accounting covers the release of — and `fault` (nil: none)
    /// breaking the step as it says, for the privacy audit's tests, which show the audit catches each.
    /// Internal: no public API, and so no command, can reach `fault`.
    static func train<Model: TrainableModel, Sampling: RandomNumberGenerator, Noise: GaussianSource>(
        _ model: Model, on data: Model.Data, configuration: DPSGDConfiguration,
        sampling: inout Sampling, noise: inout Noise, workers: Int? = nil, fault: DPSGDFault?,
        onStep: ((UnsafeBufferPointer<Double>) -> Void)? = nil, onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> Trained<Model> {
        try TrainingEngine.validate(data, for: model, optimizer: configuration.optimizer)
        try configuration.validate(exampleCount: data.exampleCount)
        let n = data.exampleCount
        let population = configuration.population ?? n
        let rate = configuration.samplingRate(exampleCount: n)
        let clip = configuration.clippingNorm
        let noiseDeviation = configuration.noiseMultiplier * clip * (fault?.noiseFactor ?? 1)
        let weighting: ExampleWeighting = fault == .clippingDisabled ? .constant(1) : .clipped(clippingNorm: clip)
        let scale = 1 / (rate * Double(population))
        let sampler = PoissonSampler(population: n, rate: rate)
        var engine = TrainingEngine(
            model: model, optimizer: configuration.optimizer,
            expectedExamples: configuration.expectedBatchSize + configuration.expectedBatchSize / 4 + 16,
            workers: workers)
        var batch: [Int] = []
        batch.reserveCapacity(configuration.expectedBatchSize + configuration.expectedBatchSize / 4 + 16)
        var steps = 0
        for epoch in 1...configuration.epochs {
            var lossSum = 0.0
            var seen = 0
            var clipped = 0
            for _ in 0..<configuration.stepsPerEpoch(exampleCount: n) {
                sampler.sample(into: &batch, using: &sampling)
                lossSum += engine.computeGradient(
                    batch: batch, data: data, weighting: weighting, noiseDeviation: noiseDeviation,
                    noise: &noise)
                seen += batch.count
                clipped += engine.clippedCount
                engine.perturbAndScale(noiseDeviation: noiseDeviation, scale: scale)
                if let onStep { engine.gradient.withUnsafeBufferPointer(onStep) }
                engine.update()
                steps += 1
            }
            onEpoch(
                EpochProgress(
                    epoch: epoch, meanLoss: seen > 0 ? lossSum / Double(seen) : 0,
                    clippedShare: seen > 0 ? Double(clipped) / Double(seen) : 0, steps: steps))
        }
        let report = TrainingReport(
            mechanism: .dpSGD, exampleCount: population, epochs: configuration.epochs, steps: steps,
            batchSize: configuration.expectedBatchSize, samplingRate: rate,
            noiseMultiplier: configuration.noiseMultiplier, clippingNorm: clip, optimizer: configuration.optimizer)
        return Trained(model: engine.model, report: report)
    }
}

/// A deliberate bug in DP-SGD, for the tests that show the privacy audit detects it (the report still
/// states the configured σ and C, as a buggy implementation's would).
enum DPSGDFault: Hashable, Sendable {
    /// Every example's gradient is summed unclipped.
    case clippingDisabled
    /// No noise is added.
    case noiseOff
    /// The noise's standard deviation is σC times `factor` (e.g. 0.1: σ scaled down tenfold).
    case noiseScaled(factor: Double)

    var noiseFactor: Double {
        switch self {
        case .clippingDisabled: 1
        case .noiseOff: 0
        case .noiseScaled(let factor): factor
        }
    }
}
