import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilPrivacy
import VeilModels
import VeilSynth

/// Model quality on synthetic shoppers (docs/results.md): ROC AUC on held-out users for `purchase` and
/// `churn` at ε = 1 and ε = 4 (δ = 1e-6) and without privacy, through the same pipeline as
/// `TrainingService` (features, keyed split, DP-SGD over the public population, evaluation), beside the
/// AUC of the generator's true probabilities. Run only when named: `VeilBench quality`.
///
/// Environment: `VEIL_QUALITY_USERS` (50000), `VEIL_QUALITY_DAYS` (120), `VEIL_QUALITY_SEED` (7),
/// `VEIL_QUALITY_RUNS` (training runs averaged per setting, 3), and for tuning `VEIL_QUALITY_EPOCHS`,
/// `VEIL_QUALITY_BATCH`, `VEIL_QUALITY_LR`, `VEIL_QUALITY_CLIP`, `VEIL_QUALITY_HIDDEN` (0 = logistic).
enum QualityBenchmarks {
    static let all: [Benchmark] = [Benchmark(name: "quality") { try await run() }]

    static func run() async throws -> [BenchResult] {
        let quality = BenchSettings.current.quality
        let users = quality.users, days = quality.days, seed = quality.seed, runs = quality.runs
        let horizon = 14
        let cutoffDay = days - horizon
        let shoppers = SyntheticShoppers(SynthConfiguration(users: users, days: days, seed: seed))
        let cutoff = Int64(shoppers.configuration.start.adding(days: cutoffDay).daysSinceEpoch) * FeatureWindow.millisPerDay

        // A fixed master key: the pseudonyms and the split are those of one deployment.
        let master = SecretBytes(copying: BLAKE2b.hash256(Array("veil-quality-bench".utf8)))
        let userPseudonyms = Pseudonymizer(master: master, epoch: 1, context: .user)
        let sessionPseudonyms = Pseudonymizer(master: master, epoch: 1, context: .session)
        var policy = Policy()
        policy.training.allowNonPrivate = true
        let schema = FeatureSchema(policy: policy)
        let window = FeatureWindow(observationStart: nil, cutoff: cutoff, horizonEnd: cutoff + Int64(horizon) * FeatureWindow.millisPerDay)
        let extractor = FeatureExtractor(schema: schema, window: window)

        // Examples per user, in parallel over both cores.
        let start = ContinuousClock.now
        let slots = UnsafeSlots<(UserExample?, Bool)>(count: users)
        let failure = UnsafeSlots<any Error>(count: 1)
        DispatchQueue.concurrentPerform(iterations: 16) { part in
            for index in stride(from: part, to: users, by: 16) {
                do {
                    let events = try shoppers.storedEvents(ofUser: index, users: userPseudonyms, sessions: sessionPseudonyms)
                    slots[index] = (extractor.example(for: events), !events.isEmpty)
                } catch {
                    failure[0] = error
                }
            }
        }
        if let error = failure[0] { throw error }
        let population = (0..<users).filter { slots[$0]?.1 ?? false }.count
        FileHandle.standardError.write(Data("quality: \(users) users read in \(ContinuousClock.now - start)\n".utf8))

        let key = TrainingPipeline.splitKey(master: master)
        var train: [UserExample] = []
        var holdout: [(UserExample, Int)] = []
        for index in 0..<users {
            guard let example = slots[index]?.0 else { continue }
            if TrainingPipeline.isHoldout(example.pseudonym, key: key) { holdout.append((example, index)) } else { train.append(example) }
        }

        var results: [BenchResult] = [
            BenchResult(name: "quality.population", value: Double(population), unit: "users"),
            BenchResult(name: "quality.train_users", value: Double(train.count), unit: "users"),
            BenchResult(name: "quality.holdout_users", value: Double(holdout.count), unit: "users"),
        ]
        let settings: [(name: String, epsilon: Double?)] = [("eps1", 1), ("eps4", 4), ("non_private", nil)]
        for task in [PredictionTask.purchase, .churn] {
            let trainSet = try TrainingPipeline.dataset(train, task: task, schema: schema)!
            let holdoutSet = try TrainingPipeline.dataset(holdout.map(\.0), task: task, schema: schema)!
            // The generator's exact probabilities, scored on the same holdout users.
            let truth = holdout.map { _, index -> Double in
                let value = shoppers.truth(ofUser: index, cutoffDay: cutoffDay, horizonDays: horizon)
                return task == .purchase ? value.purchaseProbability : value.noEventProbability
            }
            let truthAUC = try BinaryPredictions(probabilities: truth, labels: holdoutSet.labels).rocAUC ?? .nan
            results.append(BenchResult(name: "quality.\(task.rawValue).truth.roc_auc", value: truthAUC, unit: "auc"))
            results.append(BenchResult(
                name: "quality.\(task.rawValue).base_rate", value: Double(holdoutSet.labels.reduce(0, +)) / Double(holdoutSet.rowCount),
                unit: "share"))
            for setting in settings {
                var aucs: [Double] = []
                var recency = Double.nan
                for run in 0..<runs {
                    let hidden = quality.hidden
                    let request = TrainingRequest(
                        task: task, epsilon: setting.epsilon, model: hidden > 0 ? .mlp : .logistic,
                        hiddenSizes: hidden > 0 ? [hidden] : nil, epochs: quality.epochs, batchSize: quality.batchSize,
                        clippingNorm: quality.clippingNorm, learningRate: quality.learningRate, cutoffMillis: cutoff,
                        horizonDays: horizon,
                        seed: UInt64(run + 1), nonPrivate: setting.epsilon == nil)
                    let plan = try request.validate(policy: policy, latestEventMillis: nil, now: .distantFuture)
                    var sigma: Double?
                    if let epsilon = setting.epsilon {
                        let shape = DPSGDConfiguration(
                            noiseMultiplier: 1, clippingNorm: plan.clippingNorm, expectedBatchSize: plan.batchSize,
                            epochs: plan.epochs, population: population)
                        sigma = try NoiseCalibration.calibrate(
                            targetEpsilon: epsilon, delta: plan.delta, samplingRate: shape.samplingRate(exampleCount: population),
                            steps: shape.steps(exampleCount: population), method: AccountingMethod(plan.accountant)
                        ).noiseMultiplier
                    }
                    let result = try TrainingPipeline.fit(
                        plan: plan, train: trainSet, schema: schema, population: population,
                        noiseMultiplier: sigma)
                    let (metrics, baselines) = try TrainingPipeline.evaluate(
                        network: result.network, holdout: holdoutSet, train: trainSet, task: task, schema: schema)
                    aucs.append(metrics.rocAuc ?? .nan)
                    recency = baselines["recency"]?.rocAuc ?? .nan
                    if run == 0, let sigma {
                        results.append(BenchResult(name: "quality.\(task.rawValue).\(setting.name).noise_multiplier", value: sigma, unit: "sigma"))
                    }
                }
                let mean = aucs.reduce(0, +) / Double(aucs.count)
                let spread = (aucs.max() ?? 0) - (aucs.min() ?? 0)
                results.append(BenchResult(name: "quality.\(task.rawValue).\(setting.name).roc_auc", value: mean, unit: "auc"))
                results.append(BenchResult(name: "quality.\(task.rawValue).\(setting.name).roc_auc_range", value: spread, unit: "auc"))
                if setting.epsilon == nil {
                    results.append(BenchResult(name: "quality.\(task.rawValue).recency.roc_auc", value: recency, unit: "auc"))
                }
            }
        }
        return results
    }
}

/// Fixed-size storage written from `concurrentPerform` at distinct indices.
final class UnsafeSlots<Value>: @unchecked Sendable {
    private var values: [Value?]
    private let lock = NSLock()

    init(count: Int) { values = Array(repeating: nil, count: count) }

    subscript(index: Int) -> Value? {
        get { lock.withLock { values[index] } }
        set { lock.withLock { values[index] = newValue } }
    }
}
