import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilPrivacy
import VeilStore

/// Progress of a training run, for a terminal or a run-status endpoint.
public struct TrainingProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Codable {
        case reading, training, evaluating
    }

    public var phase: Phase
    /// Users read so far (phase `reading`).
    public var usersRead: Int
    public var epoch: Int
    public var epochs: Int
    public var steps: Int
    public var totalSteps: Int
    /// ε of the steps taken so far, at the run's δ (nil when non-private).
    public var epsilonSoFar: Double?
    /// Mean training loss of the epoch. Computed on the private data and NOT differentially private:
    /// show it on a terminal, never store, log or return it.
    public var meanLoss: Double?
}

/// A run's progress as `GET /v1/training-runs/{id}` shows it: every field but `meanLoss`, which is
/// computed on the private data and never returned.
extension TrainingProgress: Encodable {
    enum CodingKeys: String, CodingKey {
        case phase, epoch, epochs, steps
        case usersRead = "users_read"
        case totalSteps = "total_steps"
        case epsilonSoFar = "epsilon_so_far"
    }
}

/// The steps of a training run that do not touch the ledger or the registry: reading examples,
/// splitting, fitting and evaluating. `TrainingService` runs them after the budget is reserved;
/// `VeilBench quality` runs them on in-memory synthetic data.
public enum TrainingPipeline {
    /// The key of the train/holdout split: `crypto_kdf(32, id 1, "veil-spl", master)`.
    public static func splitKey(master: SecretBytes) -> SecretBytes {
        KeyDerivation.subkey(length: 32, id: 1, context: "veil-spl", master: master)
    }

    /// Holdout share of the users.
    public static let holdoutShare = 0.2

    /// The private evaluation's noise σ for a run targeting (ε, δ) that gives it `share` of its zCDP
    /// budget (`BudgetShare`; the policy's `training.evaluation_share`), and the release it is charged as.
    public static func evaluationRelease(
        targetEpsilon: Double, delta: Double, share: Double
    ) -> (sigma: Double, mechanism: PrivacyMechanism) {
        let sigma = BudgetShare.gaussianSigma(share: share, epsilon: targetEpsilon, delta: delta)
        return (sigma, PrivateEvaluation.mechanism(sigma: sigma))
    }

    /// What a private run of `steps` steps at `samplingRate` pays for its target (ε, δ) under `method`:
    /// the DP-SGD steps composed with the private evaluation's release (σ_eval from `evaluationShare`)
    /// and with `others` (a sequence run's DP item selection), one spend whose parts are, in this order,
    /// the steps, the evaluation and `others`. σ is the smallest that meets the target for the whole
    /// composition (`NoiseCalibration`). `veil train` and the privacy audit (`TaskPrivacyAudit`)
    /// calibrate with this one function.
    public static func privateRunCost(
        targetEpsilon: Double, delta: Double, samplingRate: Double, steps: Int, method: AccountingMethod,
        evaluationShare: Double, alongside others: [PrivacyMechanism] = []
    ) throws(VeilError) -> (calibration: NoiseCalibration, evaluationSigma: Double, mechanism: PrivacyMechanism) {
        let (evaluationSigma, evaluation) = evaluationRelease(targetEpsilon: targetEpsilon, delta: delta, share: evaluationShare)
        let calibration = try NoiseCalibration.calibrate(
            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, steps: steps, method: method,
            alongside: [evaluation] + others)
        let training = PrivacyMechanism.subsampledGaussian(
            samplingRate: samplingRate, noiseMultiplier: calibration.noiseMultiplier, steps: steps)
        return (calibration, evaluationSigma, .composition(parts: [training, evaluation] + others))
    }

    /// Whether `pseudonym` is a holdout user: the first 8 bytes of BLAKE2b-128(key, pid) as an integer,
    /// below 20 % of 2⁶⁴. Stable for a key, unpredictable without it, independent of the data.
    public static func isHoldout(_ pseudonym: Pseudonym, key: SecretBytes) -> Bool {
        let digest = BLAKE2b.keyedHash(pseudonym.bytes, key: key, outputLength: 16)
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(value) < holdoutShare * 18_446_744_073_709_551_616.0
    }

    /// Reads every event once, in (pseudonym, time) order, and returns one example per user with an
    /// event in the observation window. `progress` gets the number of users read after each chunk.
    public static func examples(
        from store: any EventStore, extractor: FeatureExtractor, chunkSize: Int = 50_000,
        progress: (Int) -> Void = { _ in }
    ) async throws -> [UserExample] {
        try await perUser(from: store, chunkSize: chunkSize, progress: progress) { extractor.example(for: $0) }
    }

    /// Reads every event once, in (pseudonym, time) order, hands `extract` all of one user's events at a
    /// time and returns what it made, in pseudonym order. `progress` gets the number of users read after
    /// each chunk.
    static func perUser<Example>(
        from store: any EventStore, chunkSize: Int = 50_000, progress: (Int) -> Void,
        extract: ([StoredEvent]) -> Example?
    ) async throws -> [Example] {
        var examples: [Example] = []
        var current: [StoredEvent] = []
        var users = 0
        func flush() {
            if !current.isEmpty {
                users += 1
                if let example = extract(current) { examples.append(example) }
                current.removeAll(keepingCapacity: true)
            }
        }
        try await store.forEachEventChunk(chunkSize: chunkSize) { chunk in
            for event in chunk {
                if let last = current.last, last.pseudonym != event.pseudonym { flush() }
                current.append(event)
            }
            progress(users)
        }
        flush()
        progress(users)
        return examples
    }

    /// The labelled rows of `examples` for `task` (examples without a label are left out), with the
    /// task's classes under `schema`.
    public static func dataset(_ examples: [UserExample], task: PredictionTask, schema: FeatureSchema) throws -> LabeledDataset? {
        var features: [Double] = []
        var labels: [Int] = []
        let width = examples.first?.features.count ?? 0
        features.reserveCapacity(examples.count * width)
        for example in examples {
            guard let label = example.outcome.label(for: task) else { continue }
            features += example.features
            labels.append(label)
        }
        guard !labels.isEmpty else { return nil }
        return try LabeledDataset(
            features: features, featureCount: width, labels: labels, classCount: task.definition.classCount(schema: schema))
    }

    /// Seeds for initialisation, sampling and noise, distinct per role.
    static func generators(seed: UInt64?) -> (initial: ChaChaNoiseGenerator, sampling: ChaChaNoiseGenerator, noise: ChaChaNoiseGenerator) {
        guard let seed else { return (ChaChaNoiseGenerator(), ChaChaNoiseGenerator(), ChaChaNoiseGenerator()) }
        return (
            ChaChaNoiseGenerator(seed: seed &* 3), ChaChaNoiseGenerator(seed: seed &* 3 &+ 1),
            ChaChaNoiseGenerator(seed: seed &* 3 &+ 2)
        )
    }

    /// Trains the plan's model on `train`: DP-SGD with noise multiplier `noiseMultiplier` and sampling
    /// rate B / `population` when the plan is private, plain minibatch SGD otherwise; the passes compute
    /// in `TrainingPrecision` (`DenseModel.train`).
    public static func fit(
        plan: TrainingPlan, train: LabeledDataset, schema: FeatureSchema, population: Int, noiseMultiplier: Double?,
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingResult {
        let architecture = try plan.architecture(inputSize: train.featureCount, schema: schema)
        var (initial, sampling, noiseGenerator) = generators(seed: plan.seed)
        let schedule = try Schedule(plan: plan, exampleCount: train.rowCount, population: population, noiseMultiplier: noiseMultiplier)
        var noise = GaussianNoise(generator: noiseGenerator)
        return try DenseModel.train(
            architecture, on: train, trainer: schedule.trainer, initial: &initial, sampling: &sampling, noise: &noise
        ) { progress(schedule.progress(plan: plan, epoch: $0)) }
    }

    /// The trainer of a plan over `exampleCount` examples — DP-SGD with σ `noiseMultiplier` and q =
    /// B / `population` when the plan is private, plain minibatch SGD otherwise — and what its progress
    /// reports.
    struct Schedule {
        let trainer: Trainer
        let totalSteps: Int
        /// q and σ of a private run (ε so far is reported from them).
        let samplingRate: Double?
        let noiseMultiplier: Double?

        init(plan: TrainingPlan, exampleCount: Int, population: Int, noiseMultiplier: Double?) throws {
            if plan.isPrivate {
                guard let noiseMultiplier else {
                    throw VeilError(.invalidInput, field: "noise_multiplier", "a private run needs a noise multiplier")
                }
                let configuration = plan.dpsgd(noiseMultiplier: noiseMultiplier, population: population)
                trainer = .dpSGD(configuration)
                totalSteps = configuration.steps(exampleCount: exampleCount)
                samplingRate = configuration.samplingRate(exampleCount: exampleCount)
                self.noiseMultiplier = noiseMultiplier
            } else {
                let batch = min(plan.batchSize, exampleCount)
                trainer = .sgd(SGDConfiguration(batchSize: batch, epochs: plan.epochs, optimizer: plan.optimizer))
                totalSteps = plan.epochs * ((exampleCount + batch - 1) / batch)
                samplingRate = nil
                self.noiseMultiplier = nil
            }
        }

        func progress(plan: TrainingPlan, epoch: EpochProgress) -> TrainingProgress {
            TrainingPipeline.progress(
                plan: plan, epoch: epoch, totalSteps: totalSteps, samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
        }
    }

    /// The progress after `epoch`; with a sampling rate and σ (a private run), ε of the steps so far.
    static func progress(
        plan: TrainingPlan, epoch: EpochProgress, totalSteps: Int, samplingRate: Double?, noiseMultiplier: Double?
    ) -> TrainingProgress {
        var spent: Double?
        if let samplingRate, let noiseMultiplier {
            spent = PrivacyAccountant.epsilon(
                composing: [.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier, steps: epoch.steps)],
                delta: plan.delta, method: AccountingMethod(plan.accountant))
        }
        return TrainingProgress(
            phase: .training, usersRead: 0, epoch: epoch.epoch, epochs: plan.epochs, steps: epoch.steps,
            totalSteps: totalSteps, epsilonSoFar: spent, meanLoss: epoch.meanLoss)
    }

    /// The holdout histogram of predicted `probabilities` against `labels`: per-class score bins for two
    /// classes, top-label confidence × rank of the label for more (`HoldoutHistogram`).
    public static func holdoutHistogram(probabilities: [Double], labels: [Int], classCount: Int) throws -> HoldoutHistogram {
        classCount == 2
            ? HoldoutHistogram(try BinaryPredictions(probabilities: probabilities, labels: labels))
            : HoldoutHistogram(try MulticlassPredictions(probabilities: probabilities, classCount: classCount, labels: labels))
    }

    /// The differentially private holdout metrics of a run: `histogram` (one holdout user per count)
    /// released with discrete Gaussian noise of σ = `sigma` from a CSPRNG-keyed generator (seeded when
    /// the plan is), with bootstrap intervals (`PrivateEvaluation`).
    public static func privateEvaluation(_ histogram: HoldoutHistogram, sigma: Double, seed: UInt64?) throws -> PrivateEvaluation {
        var generator = seed.map { ChaChaNoiseGenerator(seed: $0 ^ 0x5EED_E7A1) } ?? ChaChaNoiseGenerator()
        return try PrivateEvaluation.release(histogram, sigma: sigma, using: &generator)
    }

    /// The holdout histogram of a feature-row `network` (clamped probabilities on `holdout`).
    public static func holdoutHistogram(network: Network, holdout: LabeledDataset) throws -> HoldoutHistogram {
        try holdoutHistogram(
            probabilities: try network.predictProbabilities(holdout.features).map { min(max($0, 0), 1) },
            labels: holdout.labels, classCount: holdout.classCount)
    }

    /// Held-out metrics of `network` and of the task's baselines (`TaskDefinition.baselines`).
    public static func evaluate(
        network: Network, holdout: LabeledDataset, train: LabeledDataset, task: PredictionTask, schema: FeatureSchema
    ) throws -> (metrics: ModelEvaluation, baselines: [String: ModelEvaluation]) {
        let definition = task.definition
        func evaluation(_ probabilities: [Double]) throws -> ModelEvaluation {
            try definition.evaluate(probabilities: probabilities, labels: holdout.labels, classCount: holdout.classCount)
        }
        let probabilities = try network.predictProbabilities(holdout.features).map { min(max($0, 0), 1) }
        let baselines = try definition.baselines(holdout: holdout, train: train, schema: schema).mapValues(evaluation)
        return (try evaluation(probabilities), baselines)
    }
}
