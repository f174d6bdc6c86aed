import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilLedger
import VeilPolicy
import VeilPrivacy
import VeilStore

/// The training use case: validate → count users (metadata) → calibrate σ → reserve the budget → read
/// the events → split → DP-SGD → evaluate → register a candidate model with its card → audit.
///
/// Contract:
/// - No event is read before the budget is reserved. The only things read before are metadata, which
///   Veil treats as public as Opacus and TF Privacy treat the dataset size: the number of registered
///   users n (`IdentityVault.identityCount()`; q = B / n and steps = epochs × round(n / B) follow from
///   it), the latest stored event time (the default cutoff, `TrainingPlan.defaultCutoff`) and whether
///   any event falls in the label horizon.
/// - A cutoff whose label horizon holds no stored event, or runs past the end of the stored data
///   (`TrainingPlan.dataEnd`), is refused (field `cutoff`) before anything is spent: its labels would
///   be empty or incomplete.
/// - A refused reservation (`.budgetExceeded`) stops the run with nothing read, trained or registered.
///   A reservation is never refunded, even if the run fails later.
/// - The registered model is a `candidate`; only a reviewer's approval makes it serve. A non-private
///   run (only when the policy allows it) spends nothing, is marked `is_private: false` and can never
///   be approved.
/// - Every run that registers a model writes a `model.train` audit record with its parameters, ε, δ and
///   the model id, in the registration's transaction; a private run's record and registry entry also
///   carry `spend_id`, the ledger spend (and `budget.spend` record) that paid for it.
public final class TrainingService: Sendable {
    private let policy: LoadedPolicy
    private let master: SecretBytes
    private let events: any EventStore
    private let vault: any IdentityVault
    private let budget: BudgetService
    private let models: ModelRegistry
    private let clock: WallClock

    public init(
        policy: LoadedPolicy, master: SecretBytes, events: any EventStore, vault: any IdentityVault,
        budget: BudgetService, models: ModelRegistry, clock: WallClock = .system
    ) {
        self.policy = policy
        self.master = master
        self.events = events
        self.vault = vault
        self.budget = budget
        self.models = models
        self.clock = clock
    }

    /// Checks `request` exactly as `train` does before anything is spent or read — the rules, the
    /// policy, and that the label horizon lies within the stored data — and returns the resolved plan.
    public func check(_ request: TrainingRequest) async throws -> TrainingPlan {
        let latest = try await events.latestEventMillis()
        let plan = try request.validate(policy: policy.policy, latestEventMillis: latest, now: clock.now())
        try await checkHorizon(plan.window, latestEventMillis: latest)
        return plan
    }

    /// What a run of `request` would cost: q and steps from the number of users, σ calibrated to its ε
    /// with the policy's accountant (composed with the private evaluation, as `train` charges it), and ε
    /// (and the σ each would need) under both accountants
    /// (`DPSGDExplanation`). Reads no event and spends nothing (`veil train --explain`).
    ///
    /// - Throws: as `check`, as `train` for the number of users, and `invalidInput` for a non-private
    ///   request (it has no guarantee to explain).
    public func explain(_ request: TrainingRequest) async throws -> DPSGDExplanation {
        let plan = try await check(request)
        guard plan.isPrivate, let target = plan.targetEpsilon else {
            throw VeilError(.invalidInput, field: "non_private", "a non-private run has no privacy guarantee to explain")
        }
        let (samplingRate, steps) = Self.privateRun(plan, population: try await population(for: plan))
        return try DPSGDExplanation.explain(
            samplingRate: samplingRate, steps: steps, delta: plan.delta, targetEpsilon: target, accountant: plan.accountant,
            alongside: [TrainingPipeline.evaluationRelease(targetEpsilon: target, delta: plan.delta).mechanism])
    }

    /// n, the registered identities (metadata only), checked against the plan's batch size.
    private func population(for plan: TrainingPlan) async throws -> Int {
        let population = try await vault.identityCount()
        guard population >= 2 else {
            throw VeilError(.invalidInput, field: "data", "there are no users to train on; ingest events first")
        }
        guard plan.batchSize <= population else {
            throw VeilError(
                .invalidInput, field: "batch_size", "must be at most the number of users (\(population))")
        }
        return population
    }

    /// The sampling rate and steps a private run of `plan` is accounted with, over `population` users.
    private static func privateRun(_ plan: TrainingPlan, population: Int) -> (samplingRate: Double, steps: Int) {
        let shape = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: plan.clippingNorm, expectedBatchSize: plan.batchSize,
            epochs: plan.epochs, optimizer: plan.optimizer, population: population)
        return (shape.samplingRate(exampleCount: population), shape.steps(exampleCount: population))
    }

    /// Runs one training request for `principal` acting as `role` and returns the registered model's card
    /// (with `model_id`). `progress` is called from the training task; its `meanLoss` is for a terminal only.
    public func train(
        _ request: TrainingRequest, principal: String, role: Role = .trainer,
        progress: @escaping @Sendable (TrainingProgress) -> Void = { _ in }
    ) async throws -> ModelCard {
        // a) validate against the rules and the policy; the default cutoff comes from the latest event time.
        let plan = try await check(request)
        let schema = FeatureSchema(policy: policy.policy)
        guard plan.task.definition.classCount(schema: schema) >= 2 else {
            throw VeilError(.invalidInput, field: "task", "\(plan.task) needs at least 2 classes (categories in the policy)")
        }

        // b) n from metadata only.
        let population = try await population(for: plan)

        // c) q, steps and σ; d) reserve the budget before any event is read.
        var noiseMultiplier: Double?
        var calibratedEpsilon: Double?
        var samplingRate = Double(plan.batchSize) / Double(population)
        var steps = 0
        var spendID: Int64?
        var split: ModelCard.PrivacySplit?
        if plan.isPrivate, let target = plan.targetEpsilon {
            (samplingRate, steps) = Self.privateRun(plan, population: population)
            let method = AccountingMethod(plan.accountant)
            let cost = try TrainingPipeline.privateRunCost(
                targetEpsilon: target, delta: plan.delta, samplingRate: samplingRate, steps: steps, method: method)
            noiseMultiplier = cost.calibration.noiseMultiplier
            calibratedEpsilon = cost.calibration.epsilon
            split = try Self.split(cost.mechanism, evaluationSigma: cost.evaluationSigma, delta: plan.delta, method: method)
            spendID = try await budget.reserve(
                BudgetRequest(
                    principal: principal, role: role,
                    purpose: "train \(plan.task.rawValue) model (\(plan.model.rawValue)) with private evaluation",
                    mechanism: cost.mechanism)
            ).spendID
        }

        // e) read, group per user, extract, split.
        let extractor = FeatureExtractor(schema: schema, window: plan.window)
        let examples = try await TrainingPipeline.examples(from: events, extractor: extractor) { users in
            progress(
                TrainingProgress(
                    phase: .reading, usersRead: users, epoch: 0, epochs: plan.epochs, steps: 0, totalSteps: steps,
                    epsilonSoFar: nil, meanLoss: nil))
        }
        let key = TrainingPipeline.splitKey(master: master)
        var trainExamples: [UserExample] = []
        var holdoutExamples: [UserExample] = []
        for example in examples {
            if TrainingPipeline.isHoldout(example.pseudonym, key: key) {
                holdoutExamples.append(example)
            } else {
                trainExamples.append(example)
            }
        }
        guard let train = try TrainingPipeline.dataset(trainExamples, task: plan.task, schema: schema),
            let holdout = try TrainingPipeline.dataset(holdoutExamples, task: plan.task, schema: schema)
        else {
            throw VeilError(
                .invalidInput, field: "cutoff",
                "no labelled users on one side of the train/holdout split in this window; check --cutoff and --window")
        }
        guard train.rowCount <= population else {
            throw VeilError(.integrity, field: "vault", "more users have events than have vault rows; the store is inconsistent")
        }

        // f) train.
        let result = try TrainingPipeline.fit(
            plan: plan, train: train, schema: schema, population: population, noiseMultiplier: noiseMultiplier,
            progress: progress)
        if plan.isPrivate {
            guard result.report.steps == steps, result.report.samplingRate == samplingRate else {
                throw VeilError(.integrity, field: "steps", "the run did not take the steps that were paid for")
            }
        } else {
            steps = result.report.steps
            samplingRate = result.report.samplingRate
        }

        // g) evaluate on the holdout users.
        progress(
            TrainingProgress(
                phase: .evaluating, usersRead: examples.count, epoch: plan.epochs, epochs: plan.epochs,
                steps: steps, totalSteps: steps, epsilonSoFar: calibratedEpsilon, meanLoss: nil))
        let (metrics, baselines) = try TrainingPipeline.evaluate(
            network: result.network, holdout: holdout, train: train, task: plan.task, schema: schema)
        let privateMetrics = try split.map { split in
            try TrainingPipeline.privateEvaluation(
                network: result.network, holdout: holdout, sigma: split.evaluationNoiseSigma, seed: plan.seed)
        }

        // h) card + artifact → registry (candidate) → audit.
        let artifact = ModelArtifact(network: result.network, training: result.report)
        var card = makeCard(
            plan: plan, schema: schema, artifact: artifact, population: population, samplingRate: samplingRate,
            steps: steps, noiseMultiplier: noiseMultiplier, epsilon: calibratedEpsilon, split: split,
            privateMetrics: privateMetrics, metrics: metrics, baselines: baselines, trainCount: train.rowCount,
            holdoutCount: holdout.rowCount)
        let file = try ModelFile.encode(card: card, artifact: artifact)
        let registered = card
        let record = try await models.register(
            artifact: file, task: plan.task.rawValue, isPrivate: plan.isPrivate, epsilon: calibratedEpsilon, trainer: principal,
            spendID: spendID
        ) { id in
            var card = registered
            card.modelId = id
            var details = auditDetails(card: card, role: role)
            if let spendID { details["spend_id"] = .int(spendID) }
            return AuditDraft(actor: principal, action: .modelTrain, details: details)
        }
        card.modelId = record.id
        card.created = ModelFile.isoTime(millis: record.createdMillis)
        return card
    }

    /// Refuses a label horizon with no stored event in it, or one that ends after the stored data does.
    private func checkHorizon(_ window: FeatureWindow, latestEventMillis: Int64?) async throws {
        let horizon = "the label horizon [\(ModelFile.isoTime(millis: window.cutoff)), \(ModelFile.isoTime(millis: window.horizonEnd)))"
        let latest = latestEventMillis.map(ModelFile.isoTime(millis:)) ?? "none"
        let advice = "choose an earlier cutoff, or leave it out for the default (end of the latest event's day − horizon)"
        guard try await events.containsEvents(in: window.cutoff..<window.horizonEnd) else {
            throw VeilError(.invalidInput, field: "cutoff", "\(horizon) holds no stored event (latest event: \(latest)); \(advice)")
        }
        if let latestEventMillis, window.horizonEnd > TrainingPlan.dataEnd(latestEventMillis: latestEventMillis) {
            throw VeilError(
                .invalidInput, field: "cutoff",
                "\(horizon) runs past the end of the stored data (latest event: \(latest)), so its labels would be incomplete; \(advice)")
        }
    }

    private func makeCard(
        plan: TrainingPlan, schema: FeatureSchema, artifact: ModelArtifact, population: Int, samplingRate: Double,
        steps: Int, noiseMultiplier: Double?, epsilon: Double?, split: ModelCard.PrivacySplit?,
        privateMetrics: PrivateEvaluation?, metrics: ModelEvaluation, baselines: [String: ModelEvaluation],
        trainCount: Int, holdoutCount: Int
    ) -> ModelCard {
        var notes = [
            "epsilon covers the model parameters and private_metrics, one spend (user-level DP: one example per user)",
            "private_metrics are differentially private: holdout histogram counts with discrete Gaussian noise, intervals by parametric bootstrap",
            "NOT FOR RELEASE: metrics, baselines and the train/holdout counts are exact, computed on the protected users and not covered by epsilon",
            "the number of users (population) is treated as public",
        ]
        if !plan.isPrivate { notes.insert("NON-PRIVATE: trained without differential privacy; can never be approved or served", at: 0) }
        if plan.seed != nil { notes.insert("SEEDED: the noise was predictable from the seed; for tests only, the guarantee does not hold", at: 0) }
        return ModelCard(
            modelId: nil, created: nil, task: plan.task.rawValue,
            model: ModelCard.Model(
                kind: artifact.kind, hiddenSizes: artifact.hiddenSizes, parameterCount: artifact.parameters.count,
                optimizer: "adam", learningRate: plan.learningRate),
            features: schema,
            dataWindow: ModelCard.DataWindow(
                observationStart: plan.window.observationStart.map(ModelFile.isoTime(millis:)),
                cutoff: ModelFile.isoTime(millis: plan.window.cutoff), horizonEnd: ModelFile.isoTime(millis: plan.window.horizonEnd),
                windowDays: plan.windowDays, horizonDays: plan.horizonDays),
            isPrivate: plan.isPrivate, epsilon: epsilon, targetEpsilon: plan.targetEpsilon,
            delta: plan.isPrivate ? plan.delta : nil, noiseMultiplier: noiseMultiplier, samplingRate: samplingRate,
            clippingNorm: plan.isPrivate ? plan.clippingNorm : nil, steps: steps, epochs: plan.epochs,
            expectedBatchSize: plan.batchSize, population: population,
            accountant: plan.isPrivate ? ModelCard.accountantDescription(plan.accountant) : nil, seeded: plan.seed != nil,
            privacySplit: split, privateMetrics: privateMetrics, metrics: metrics, baselines: baselines, trainCount: trainCount, holdoutCount: holdoutCount,
            policyHash: policy.hash, notes: notes)
    }

    /// Each part's ε alone at `delta`, for the card and the audit record.
    private static func split(
        _ mechanism: PrivacyMechanism, evaluationSigma: Double, delta: Double, method: AccountingMethod
    ) throws(VeilError) -> ModelCard.PrivacySplit {
        guard case let .composition(parts) = mechanism, parts.count == 2 else {
            throw VeilError(.integrity, field: "mechanism", "a private run is charged as its training and its evaluation")
        }
        let epsilons = parts.map { PrivacyAccountant.epsilon(composing: [$0], delta: delta, method: method) }
        return ModelCard.PrivacySplit(
            evaluationShare: TrainingPipeline.evaluationShare, evaluationNoiseSigma: evaluationSigma,
            trainingEpsilon: epsilons[0], evaluationEpsilon: epsilons[1], charged: mechanism)
    }

    private func auditDetails(card: ModelCard, role: Role) -> [String: JSONValue] {
        var details: [String: JSONValue] = [
            "model_id": .string(card.modelId ?? ""), "task": .string(card.task), "role": .string(role.rawValue),
            "kind": .string(card.model.kind), "hidden_sizes": .array(card.model.hiddenSizes.map { .int(Int64($0)) }),
            "private": .bool(card.isPrivate), "epochs": .int(Int64(card.epochs)),
            "expected_batch_size": .int(Int64(card.expectedBatchSize)), "steps": .int(Int64(card.steps)),
            "sampling_rate": .double(card.samplingRate), "population": .int(Int64(card.population)),
            "learning_rate": .double(card.model.learningRate), "cutoff": .string(card.dataWindow.cutoff),
            "horizon_days": .int(Int64(card.dataWindow.horizonDays)), "seeded": .bool(card.seeded),
            "policy_hash": .string(card.policyHash),
        ]
        if let epsilon = card.epsilon { details["epsilon"] = .double(epsilon) }
        if let delta = card.delta { details["delta"] = .double(delta) }
        if let sigma = card.noiseMultiplier { details["noise_multiplier"] = .double(sigma) }
        if let clip = card.clippingNorm { details["clipping_norm"] = .double(clip) }
        if let window = card.dataWindow.windowDays { details["window_days"] = .int(Int64(window)) }
        if let split = card.privacySplit {
            // Both parts of the one spend, by their public parameters (never a metric value).
            details["training_epsilon"] = .double(split.trainingEpsilon)
            details["evaluation_epsilon"] = .double(split.evaluationEpsilon)
            details["evaluation_noise_sigma"] = .double(split.evaluationNoiseSigma)
            details["evaluation_share"] = .double(split.evaluationShare)
            details["evaluation"] = .string(card.privateMetrics?.histogram ?? "")
        }
        return details
    }
}
