import VeilCore
import VeilCrypto
import VeilLearning
import VeilPrivacy

/// The one-run privacy audit (`OneRunAudit`) of a training task, run the way `TrainingService` trains:
/// the plan's model, epochs, batch size, clipping norm and optimiser; q = B/n and steps from the public
/// n; σ calibrated as `veil train` calibrates it (`TrainingPipeline.privateRunCost`: the plan's ε, less
/// the plan's evaluation share, under the plan's accountant); DP-SGD itself unchanged. What the examples
/// are is the caller's choice: `veil privacy audit` uses generated shoppers (n = the examples plus every
/// canary; spends nothing), `PrivacyAuditService` stored users (n = the registered users, a paid run).
public enum TaskPrivacyAudit {
    /// What the audit ran and found, beside the ε the run claims.
    public struct Report: Sendable, Hashable, Codable {
        public let task: PredictionTask
        /// The ε the accountant gives the run's DP-SGD steps alone — what the canaries can reveal, and
        /// what the lower bound is compared with.
        public let claimedEpsilon: Double
        /// The ε of the whole run `veil train` would charge for this target: the steps composed with the
        /// private evaluation (at most the requested ε).
        public let runEpsilon: Double
        public let requestedEpsilon: Double
        /// The private evaluation's share of the run's zCDP budget (the policy's
        /// `training.evaluation_share`) and the σ it gives the evaluation; the steps' σ is calibrated to
        /// what is left, as in `veil train`. The audit runs no evaluation.
        public let evaluationShare: Double
        public let evaluationNoiseSigma: Double
        public let accountant: AccountingMethod
        /// The examples trained on besides the canaries (nil on stored data: an exact count of
        /// protected users, not for release).
        public let examples: Int?
        public let clippingNorm: Double
        public let batchSize: Int
        public let epochs: Int
        public let audit: OneRunAuditResult

        /// The report without the count of examples (for a run on stored users).
        func withoutExampleCount() -> Report {
            Report(
                task: task, claimedEpsilon: claimedEpsilon, runEpsilon: runEpsilon, requestedEpsilon: requestedEpsilon,
                evaluationShare: evaluationShare, evaluationNoiseSigma: evaluationNoiseSigma, accountant: accountant,
                examples: nil, clippingNorm: clippingNorm, batchSize: batchSize, epochs: epochs, audit: audit)
        }

        enum CodingKeys: String, CodingKey {
            case task, accountant, examples, epochs, audit
            case claimedEpsilon = "claimed_epsilon"
            case runEpsilon = "run_epsilon"
            case evaluationShare = "evaluation_share"
            case evaluationNoiseSigma = "evaluation_noise_sigma"
            case requestedEpsilon = "requested_epsilon"
            case clippingNorm = "clipping_norm"
            case batchSize = "batch_size"
        }
    }

    /// Audits one private run of `plan` on `train` with `settings` (its δ should be the plan's), over
    /// `population` users (default: the examples plus every canary; at least that many).
    /// Seeded generators when the plan has a seed (inclusion from `~seed`, the others as training's),
    /// else the CSPRNG. `progress` as `TrainingPipeline.fit`'s.
    ///
    /// Throws `invalidInput` for a non-private plan, a batch larger than the population, settings out of
    /// range, and what calibration and training throw.
    public static func run(
        plan: TrainingPlan, train: LabeledDataset, schema: FeatureSchema, settings: OneRunAuditSettings,
        population: Int? = nil, progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> Report {
        guard plan.isPrivate, let target = plan.targetEpsilon else {
            throw VeilError(.invalidInput, field: "epsilon", "an audit needs a private run with a target ε")
        }
        let population = population ?? OneRunAudit.population(examples: train.rowCount, settings: settings)
        guard plan.batchSize <= population else {
            throw VeilError(.invalidInput, field: "batch_size", "must be at most the users plus the canaries (\(population))")
        }
        let method = AccountingMethod(plan.accountant)
        var configuration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: plan.clippingNorm, expectedBatchSize: plan.batchSize, epochs: plan.epochs,
            optimizer: plan.optimizer, population: population)
        let samplingRate = configuration.samplingRate(exampleCount: train.rowCount)
        let steps = configuration.steps(exampleCount: train.rowCount)
        let cost = try TrainingPipeline.privateRunCost(
            targetEpsilon: target, delta: plan.delta, samplingRate: samplingRate, steps: steps, method: method,
            evaluationShare: plan.evaluationShare)
        configuration.noiseMultiplier = cost.calibration.noiseMultiplier
        let split = try ModelCard.PrivacySplit(
            cost.mechanism, evaluationShare: plan.evaluationShare, evaluationSigma: cost.evaluationSigma, delta: plan.delta,
            method: method)

        var (initial, sampling, noiseGenerator) = TrainingPipeline.generators(seed: plan.seed)
        // The model as `veil train` trains it: its passes in `TrainingPrecision` (`DenseModel.train`).
        let network = DenseNetwork<TrainingPrecision>(
            architecture: try plan.architecture(inputSize: train.featureCount, schema: schema), using: &initial)
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
            task: plan.task, claimedEpsilon: split.trainingEpsilon, runEpsilon: cost.calibration.epsilon,
            requestedEpsilon: target, evaluationShare: plan.evaluationShare, evaluationNoiseSigma: cost.evaluationSigma,
            accountant: method, examples: train.rowCount, clippingNorm: plan.clippingNorm, batchSize: plan.batchSize, epochs: plan.epochs,
            audit: result)
    }
}
