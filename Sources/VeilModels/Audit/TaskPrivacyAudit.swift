import VeilCore
import VeilCrypto
import VeilLearning
import VeilPrivacy

/// The one-run privacy audit (`OneRunAudit`) of a training task, run the way `TrainingService` trains:
/// the plan's model, epochs, batch size, clipping norm and optimiser; q = B/n and steps from the public
/// n (here the examples plus every canary); σ calibrated to the plan's ε with the plan's accountant;
/// DP-SGD itself unchanged. What the examples are is the caller's choice (`veil privacy audit` uses
/// generated shoppers, which spends nothing).
public enum TaskPrivacyAudit {
    /// What the audit ran and found, beside the ε the run claims.
    public struct Report: Sendable, Hashable, Codable {
        public let task: PredictionTask
        /// The ε the accountant gives the run (at most the requested one).
        public let claimedEpsilon: Double
        public let requestedEpsilon: Double
        public let accountant: AccountingMethod
        /// The examples trained on besides the canaries.
        public let examples: Int
        public let clippingNorm: Double
        public let batchSize: Int
        public let epochs: Int
        public let audit: OneRunAuditResult

        enum CodingKeys: String, CodingKey {
            case task, accountant, examples, epochs, audit
            case claimedEpsilon = "claimed_epsilon"
            case requestedEpsilon = "requested_epsilon"
            case clippingNorm = "clipping_norm"
            case batchSize = "batch_size"
        }
    }

    /// Audits one private run of `plan` on `train` with `settings` (its δ should be the plan's).
    /// Seeded generators when the plan has a seed (inclusion from `~seed`, the others as training's),
    /// else the CSPRNG. `progress` as `TrainingPipeline.fit`'s.
    ///
    /// Throws `invalidInput` for a non-private plan, a batch larger than the population, settings out of
    /// range, and what calibration and training throw.
    public static func run(
        plan: TrainingPlan, train: LabeledDataset, schema: FeatureSchema, settings: OneRunAuditSettings,
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> Report {
        guard plan.isPrivate, let target = plan.targetEpsilon else {
            throw VeilError(.invalidInput, field: "epsilon", "an audit needs a private run with a target ε")
        }
        let population = OneRunAudit.population(examples: train.rowCount, settings: settings)
        guard plan.batchSize <= population else {
            throw VeilError(.invalidInput, field: "batch_size", "must be at most the users plus the canaries (\(population))")
        }
        let method = AccountingMethod(plan.accountant)
        var configuration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: plan.clippingNorm, expectedBatchSize: plan.batchSize, epochs: plan.epochs,
            optimizer: plan.optimizer, population: population)
        let samplingRate = configuration.samplingRate(exampleCount: train.rowCount)
        let steps = configuration.steps(exampleCount: train.rowCount)
        let calibration = try NoiseCalibration.calibrate(
            targetEpsilon: target, delta: plan.delta, samplingRate: samplingRate, steps: steps, method: method)
        configuration.noiseMultiplier = calibration.noiseMultiplier

        var (initial, sampling, noiseGenerator) = TrainingPipeline.generators(seed: plan.seed)
        let network = Network(architecture: try plan.architecture(inputSize: train.featureCount, schema: schema), using: &initial)
        var inclusion = plan.seed.map { ChaChaNoiseGenerator(seed: ~$0) } ?? ChaChaNoiseGenerator()
        var noise = GaussianNoise(generator: noiseGenerator)
        let result = try OneRunAudit.run(
            network, on: train, configuration: configuration, settings: settings, inclusion: &inclusion,
            sampling: &sampling, noise: &noise
        ) { epoch in
            progress(
                TrainingProgress(
                    phase: .training, usersRead: 0, epoch: epoch.epoch, epochs: plan.epochs, steps: epoch.steps,
                    totalSteps: steps, epsilonSoFar: nil, meanLoss: nil))
        }
        return Report(
            task: plan.task, claimedEpsilon: calibration.epsilon, requestedEpsilon: target, accountant: method,
            examples: train.rowCount, clippingNorm: plan.clippingNorm, batchSize: plan.batchSize, epochs: plan.epochs,
            audit: result)
    }
}
