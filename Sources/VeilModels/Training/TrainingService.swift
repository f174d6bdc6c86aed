import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilLedger
import VeilPolicy
import VeilPrivacy
import VeilQueries
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
///   carry `spend_id`, the ledger spend (and `budget.spend` record) that paid for its training.
/// - A private run pays for everything it releases in one ledger spend, reserved before any event is
///   read: `{"mechanism": "composition", "parts": [steps, evaluation, selection?]}` — the DP-SGD steps,
///   the private evaluation's discrete Gaussian (feature-row and sequence models alike) and, for a
///   sequence model without a catalogue, the DP partition selection of its item vocabulary
///   (`ItemVocabularySource.select`, at the plan's vocabulary ε) — with σ calibrated so that the
///   composition meets the target ε under the ledger's accountant. A sequence model's catalogue is read
///   and checked before anything is spent. A failed selection leaves the spend spent.
public final class TrainingService: Sendable {
    let policy: LoadedPolicy
    let master: SecretBytes
    let events: any EventStore
    private let vault: any IdentityVault
    let budget: BudgetService
    private let models: ModelRegistry
    private let clock: WallClock
    /// Selects a sequence model's item vocabulary with DP when the policy names no catalogue.
    private let queries: QueryService?

    /// `queries`: the query service whose partition selection picks a sequence model's items when the
    /// policy names no catalogue (without it such a run is refused).
    public init(
        policy: LoadedPolicy, master: SecretBytes, events: any EventStore, vault: any IdentityVault,
        budget: BudgetService, models: ModelRegistry, clock: WallClock = .system, queries: QueryService? = nil
    ) {
        self.queries = queries
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
    /// with the policy's accountant (composed with the private evaluation and any DP item selection, as
    /// `train` charges it), and ε (and the σ each would need) under both accountants
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
            alongside: [TrainingPipeline.evaluationRelease(targetEpsilon: target, delta: plan.delta, share: plan.evaluationShare).mechanism]
                + (try selectionMechanism(plan).map { [$0] } ?? []))
    }

    /// The ε of a sequence run's DP vocabulary selection: nil when the plan is not a sequence model or
    /// the policy names a catalogue.
    private func selectionEpsilon(_ plan: TrainingPlan) -> Double? {
        policy.policy.catalog.itemsFile == nil ? plan.sequence?.vocabularyEpsilon : nil
    }

    /// What a sequence run's DP vocabulary selection releases, composed into the run's spend; nil when
    /// the run selects nothing.
    private func selectionMechanism(_ plan: TrainingPlan) throws(VeilError) -> PrivacyMechanism? {
        guard let epsilon = selectionEpsilon(plan), let queries else { return nil }
        return try ItemVocabularySource.selectionMechanism(
            queries: queries, epsilon: epsilon, from: plan.window.observationStart, to: plan.window.cutoff)
    }

    /// n, the registered identities (metadata only), checked against the plan's batch size.
    func population(for plan: TrainingPlan) async throws -> Int {
        let population = try await vault.identityCount()
        guard population >= 2 else {
            throw VeilError(.invalidInput, field: "data", "there are no users to train on; ingest events first")
        }
        guard plan.batchSize <= population else {
            let key = policy.policy.training.batchSizeKey(for: plan.task.name, model: plan.model)
            throw VeilError(
                .invalidInput, field: "batch_size",
                "must be at most the number of users (\(population)); a request without batch_size gets the policy's \(key)")
        }
        return population
    }

    /// The sampling rate and steps a private run of `plan` is accounted with, over `population` users.
    static func privateRun(_ plan: TrainingPlan, population: Int) -> (samplingRate: Double, steps: Int) {
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
        //    A sequence model's catalogue is read and checked here, before anything is spent.
        let plan = try await check(request)
        let schema = FeatureSchema(policy: policy.policy)
        let catalog = plan.sequence == nil ? nil : try ItemVocabularySource.catalog(policy: policy)
        if plan.sequence == nil {
            guard plan.task.definition.classCount(schema: schema) >= 2 else {
                throw VeilError(.invalidInput, field: "task", "\(plan.task) needs at least 2 classes (categories in the policy)")
            }
        } else if catalog == nil {
            guard plan.isPrivate else {
                throw VeilError(
                    .invalidInput, field: "non_private",
                    "a non-private sequence model needs a public item catalogue (catalog.items_file in the policy): DP selection of the items would spend budget on a run that can never be served")
            }
            guard queries != nil else {
                throw VeilError(.invalidInput, field: "catalog.items_file", "this service cannot select items with DP; name a catalogue in the policy")
            }
        }

        // b) n from metadata only.
        let population = try await population(for: plan)

        // c) q, steps and σ; d) reserve the budget before any event is read: one spend for the steps,
        //    the private evaluation and a sequence model's DP item selection.
        var run = RunCost(samplingRate: Double(plan.batchSize) / Double(population), steps: 0)
        var receipt: BudgetReceipt?
        if plan.isPrivate, let target = plan.targetEpsilon {
            (run.samplingRate, run.steps) = Self.privateRun(plan, population: population)
            let method = AccountingMethod(plan.accountant)
            let selection = try selectionMechanism(plan)
            let cost = try TrainingPipeline.privateRunCost(
                targetEpsilon: target, delta: plan.delta, samplingRate: run.samplingRate, steps: run.steps, method: method,
                evaluationShare: plan.evaluationShare, alongside: selection.map { [$0] } ?? [])
            run.noiseMultiplier = cost.calibration.noiseMultiplier
            run.epsilon = cost.calibration.epsilon
            run.split = try ModelCard.PrivacySplit(
                cost.mechanism, evaluationShare: plan.evaluationShare, evaluationSigma: cost.evaluationSigma,
                delta: plan.delta, method: method)
            var purpose = "train \(plan.task.rawValue) model (\(plan.model.rawValue)) with private evaluation"
            if selection != nil { purpose += " and DP item selection" }
            receipt = try await budget.reserve(
                BudgetRequest(principal: principal, role: role, purpose: purpose, mechanism: cost.mechanism))
            run.spendID = receipt?.spendID
        }

        let trained: TrainedModel
        if let sequence = plan.sequence {
            let (vocabulary, provenance): (ItemVocabulary, VocabularyProvenance)
            if let catalog {
                (vocabulary, provenance) = catalog
            } else {
                guard let receipt, let queries, let epsilon = selectionEpsilon(plan) else {
                    throw VeilError(.integrity, field: "vocabulary", "a DP item selection must be paid by the run's spend")
                }
                var generator = plan.seed.map { ChaChaNoiseGenerator(seed: $0 &* 3 &+ 3) } ?? ChaChaNoiseGenerator()
                (vocabulary, provenance) = try await ItemVocabularySource.select(
                    queries: queries, policy: policy.policy, epsilon: epsilon, from: plan.window.observationStart,
                    to: plan.window.cutoff, receipt: receipt, using: &generator)
            }
            var sequenceSchema = SequenceSchema(policy: policy.policy, vocabulary: vocabulary, for: plan.task.definition)
            sequenceSchema.length = sequence.length
            trained = try await trainSequences(
                plan: plan, schema: schema, sequenceSchema: sequenceSchema, provenance: provenance, population: population,
                run: &run, progress: progress)
        } else {
            trained = try await trainRows(plan: plan, schema: schema, population: population, run: &run, progress: progress)
        }

        // h) card + artifact → registry (candidate) → audit. The exact holdout statistics stay in the card
        //    and the file only where the policy allows.
        var card = makeCard(plan: plan, schema: schema, population: population, run: run, trained: trained)
        if !policy.policy.training.exactHoldoutMetrics { card = try card.withoutExactMetrics() }
        let registered = card
        let record = try await models.register(
            artifact: try trained.file(card), task: plan.task.rawValue, isPrivate: plan.isPrivate, epsilon: run.epsilon,
            trainer: principal, spendID: run.spendID
        ) { id in
            var card = registered
            card.modelId = id
            var details = auditDetails(card: card, role: role)
            if let spendID = run.spendID { details["spend_id"] = .int(spendID) }
            return AuditDraft(actor: principal, action: .modelTrain, details: details)
        }
        card.modelId = record.id
        card.created = ModelFile.isoTime(millis: record.createdMillis)
        return card
    }

    /// What a run costs and was charged: q, steps, σ and the ε it was calibrated to (private runs).
    struct RunCost {
        var samplingRate: Double
        var steps: Int
        var noiseMultiplier: Double?
        var epsilon: Double?
        /// The ledger spend that paid for the training (private runs), linked from the model and its record.
        var spendID: Int64?
        /// The parts of a private run's spend: training, private evaluation and any DP item selection.
        var split: ModelCard.PrivacySplit?
    }

    /// A trained model before it is registered: its card's model-specific parts and its file.
    struct TrainedModel {
        var model: ModelCard.Model
        var sequence: ModelCard.SequenceInput?
        var privateMetrics: PrivateEvaluation?
        var metrics: ModelEvaluation
        var baselines: [String: ModelEvaluation]
        var trainCount: Int
        var holdoutCount: Int
        var file: (ModelCard) throws -> Data
    }

    /// e)–g) for a feature-row model: read, group per user, extract, split, train, evaluate.
    private func trainRows(
        plan: TrainingPlan, schema: FeatureSchema, population: Int, run: inout RunCost,
        progress: @escaping @Sendable (TrainingProgress) -> Void
    ) async throws -> TrainedModel {
        let extractor = FeatureExtractor(schema: schema, window: plan.window)
        let steps = run.steps
        let examples = try await TrainingPipeline.examples(from: events, extractor: extractor) { users in
            progress(Self.readingProgress(plan: plan, users: users, totalSteps: steps))
        }
        let (trainExamples, holdoutExamples) = split(examples, pseudonym: \.pseudonym)
        guard let train = try TrainingPipeline.dataset(trainExamples, task: plan.task, schema: schema),
            let holdout = try TrainingPipeline.dataset(holdoutExamples, task: plan.task, schema: schema)
        else { throw Self.emptySplit }
        try Self.checkPopulation(train.rowCount, population)
        let result = try TrainingPipeline.fit(
            plan: plan, train: train, schema: schema, population: population, noiseMultiplier: run.noiseMultiplier,
            progress: progress)
        try Self.checkSteps(result.report, plan: plan, run: &run)
        progress(Self.evaluatingProgress(plan: plan, users: examples.count, run: run))
        let (metrics, baselines) = try TrainingPipeline.evaluate(
            network: result.network, holdout: holdout, train: train, task: plan.task, schema: schema)
        let privateMetrics = try run.split.map { split in
            try TrainingPipeline.privateEvaluation(
                TrainingPipeline.holdoutHistogram(network: result.network, holdout: holdout), sigma: split.evaluationNoiseSigma,
                seed: plan.seed)
        }
        let artifact = ModelArtifact(network: result.network, training: result.report)
        return TrainedModel(
            model: ModelCard.Model(
                kind: artifact.kind, hiddenSizes: artifact.hiddenSizes, parameterCount: artifact.parameters.count,
                optimizer: "adam", learningRate: plan.learningRate),
            sequence: nil, privateMetrics: privateMetrics, metrics: metrics, baselines: baselines, trainCount: train.rowCount,
            holdoutCount: holdout.rowCount, file: { try ModelFile.encode(card: $0, artifact: artifact) })
    }

    /// e)–g) for a sequence model: read each user's sequence and feature row, split, train, evaluate.
    private func trainSequences(
        plan: TrainingPlan, schema: FeatureSchema, sequenceSchema: SequenceSchema, provenance: VocabularyProvenance,
        population: Int, run: inout RunCost, progress: @escaping @Sendable (TrainingProgress) -> Void
    ) async throws -> TrainedModel {
        guard let sequence = plan.sequence, let encoder = plan.model.sequenceEncoder else {
            throw VeilError(.invalidInput, field: "model", "not a sequence model")
        }
        let steps = run.steps
        let examples = try await SequencePipeline.examples(
            from: events, sequences: SequenceExtractor(schema: sequenceSchema, window: plan.window),
            rows: FeatureExtractor(schema: schema, window: plan.window)
        ) { users in
            progress(Self.readingProgress(plan: plan, users: users, totalSteps: steps))
        }
        let (trainUsers, holdoutUsers) =
            sequence.evaluation == .leaveLastOut
            ? SequencePipeline.leaveLastOut(examples, schema: sequenceSchema)
            : split(examples, pseudonym: \.sequence.pseudonym)
        guard let train = try SequencePipeline.dataset(trainUsers.map(\.sequence), task: plan.task, schema: sequenceSchema)
        else { throw Self.emptySplit }
        try Self.checkPopulation(train.exampleCount, population)
        let architecture = try SequenceArchitecture(
            encoder: encoder, tokenCounts: sequenceSchema.tokenCounts,
            embeddingWidth: sequence.embeddingWidth, hiddenWidth: plan.hiddenSizes[0],
            classCount: plan.task.definition.classCount(sequences: sequenceSchema), contextWidth: sequenceSchema.contextWidth,
            headReadsEvents: sequence.headReadsEvents, repeatPath: sequence.repeatPath)
        let headPrior = sequence.headPrior ? plan.task.definition.headPrior(schema: sequenceSchema) : nil
        let result = try SequencePipeline.fit(
            plan: plan, architecture: architecture, train: train, population: population,
            noiseMultiplier: run.noiseMultiplier, headPrior: headPrior, progress: progress)
        try Self.checkSteps(result.report, plan: plan, run: &run)
        progress(Self.evaluatingProgress(plan: plan, users: examples.count, run: run))
        guard let evaluation = try SequencePipeline.evaluate(
            network: result.network, plan: plan, schema: sequenceSchema, features: schema, train: trainUsers,
            holdout: holdoutUsers, population: population, noiseMultiplier: run.noiseMultiplier)
        else {
            guard plan.task.definition.needsSequences else { throw Self.emptySplit }
            throw VeilError(
                .invalidInput, field: "cutoff",
                "no holdout user's next item after the cutoff is in the item vocabulary, so the ranking metrics cannot be measured; use a larger catalogue or another cutoff")
        }
        let privateMetrics = try run.split.map { split in
            try TrainingPipeline.privateEvaluation(evaluation.histogram, sigma: split.evaluationNoiseSigma, seed: plan.seed)
        }
        let artifact = SequenceArtifact(network: result.network, schema: sequenceSchema, training: result.report)
        return TrainedModel(
            model: ModelCard.Model(
                kind: artifact.kind, hiddenSizes: plan.hiddenSizes, parameterCount: artifact.parameters.count,
                optimizer: "adam", learningRate: plan.learningRate),
            sequence: ModelCard.SequenceInput(
                length: sequenceSchema.length, embeddingWidth: sequence.embeddingWidth, vocabulary: provenance,
                context: sequenceSchema.contextNames, timeToCutoffBoundsSeconds: sequenceSchema.timeToCutoffBoundsSeconds,
                headReadsEvents: architecture.headReadsEvents ? true : nil, headPrior: headPrior?.name,
                repeatPath: architecture.repeatPath ? true : nil,
                evaluation: plan.task.definition.needsSequences ? sequence.evaluation : nil),
            privateMetrics: privateMetrics, metrics: evaluation.metrics, baselines: evaluation.baselines, trainCount: train.exampleCount,
            holdoutCount: evaluation.holdoutCount, file: { try ModelFile.encode(card: $0, artifact: artifact) })
    }

    /// `examples` split into training and holdout users by the keyed split (`TrainingPipeline.isHoldout`).
    func split<Example>(_ examples: [Example], pseudonym: KeyPath<Example, Pseudonym>) -> (train: [Example], holdout: [Example]) {
        let key = TrainingPipeline.splitKey(master: master)
        var train: [Example] = []
        var holdout: [Example] = []
        for example in examples {
            if TrainingPipeline.isHoldout(example[keyPath: pseudonym], key: key) {
                holdout.append(example)
            } else {
                train.append(example)
            }
        }
        return (train, holdout)
    }

    static let emptySplit = VeilError(
        .invalidInput, field: "cutoff",
        "no labelled users on one side of the train/holdout split in this window; check --cutoff and --window")

    private static func checkPopulation(_ trainCount: Int, _ population: Int) throws {
        guard trainCount <= population else {
            throw VeilError(.integrity, field: "vault", "more users have events than have vault rows; the store is inconsistent")
        }
    }

    /// A private run must take exactly the steps it paid for; a non-private one reports what it took.
    private static func checkSteps(_ report: TrainingReport, plan: TrainingPlan, run: inout RunCost) throws {
        if plan.isPrivate {
            guard report.steps == run.steps, report.samplingRate == run.samplingRate else {
                throw VeilError(.integrity, field: "steps", "the run did not take the steps that were paid for")
            }
        } else {
            run.steps = report.steps
            run.samplingRate = report.samplingRate
        }
    }

    private static func readingProgress(plan: TrainingPlan, users: Int, totalSteps: Int) -> TrainingProgress {
        TrainingProgress(
            phase: .reading, usersRead: users, epoch: 0, epochs: plan.epochs, steps: 0, totalSteps: totalSteps,
            epsilonSoFar: nil, meanLoss: nil)
    }

    private static func evaluatingProgress(plan: TrainingPlan, users: Int, run: RunCost) -> TrainingProgress {
        TrainingProgress(
            phase: .evaluating, usersRead: users, epoch: plan.epochs, epochs: plan.epochs, steps: run.steps,
            totalSteps: run.steps, epsilonSoFar: run.epsilon, meanLoss: nil)
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

    private func makeCard(plan: TrainingPlan, schema: FeatureSchema, population: Int, run: RunCost, trained: TrainedModel) -> ModelCard {
        var notes = [
            trained.sequence?.vocabulary.epsilon == nil
                ? "epsilon covers the model parameters and private_metrics, one spend (user-level DP: one example per user)"
                : "epsilon covers the item vocabulary's DP partition selection, the model parameters and private_metrics, one spend (user-level DP: one example per user)",
            "private_metrics are differentially private: holdout histogram counts with discrete Gaussian noise, intervals by parametric bootstrap",
        ]
        notes += [ModelCard.exactNote, "the number of users (population) is treated as public"]
        if !plan.isPrivate { notes.insert("NON-PRIVATE: trained without differential privacy; can never be approved or served", at: 0) }
        if plan.seed != nil { notes.insert("SEEDED: the noise was predictable from the seed; for tests only, the guarantee does not hold", at: 0) }
        return ModelCard(
            modelId: nil, created: nil, task: plan.task.rawValue, model: trained.model, features: schema,
            sequence: trained.sequence,
            dataWindow: ModelCard.DataWindow(
                observationStart: plan.window.observationStart.map(ModelFile.isoTime(millis:)),
                cutoff: ModelFile.isoTime(millis: plan.window.cutoff), horizonEnd: ModelFile.isoTime(millis: plan.window.horizonEnd),
                windowDays: plan.windowDays, horizonDays: plan.horizonDays),
            isPrivate: plan.isPrivate, epsilon: run.epsilon, targetEpsilon: plan.targetEpsilon,
            delta: plan.isPrivate ? plan.delta : nil, noiseMultiplier: run.noiseMultiplier, samplingRate: run.samplingRate,
            clippingNorm: plan.isPrivate ? plan.clippingNorm : nil, steps: run.steps, epochs: plan.epochs,
            expectedBatchSize: plan.batchSize, population: population,
            accountant: plan.isPrivate ? ModelCard.accountantDescription(plan.accountant) : nil, seeded: plan.seed != nil,
            privacySplit: run.split, privateMetrics: trained.privateMetrics, metrics: trained.metrics, baselines: trained.baselines, trainCount: trained.trainCount,
            holdoutCount: trained.holdoutCount, policyHash: policy.hash, notes: notes)
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
            if case let .composition(parts) = split.charged, parts.count == 3, let vocabulary = split.vocabularyEpsilon {
                // The selection's release, as the spend composes it, so `audit verify` links the spend.
                details["vocabulary_epsilon"] = .double(vocabulary)
                details["vocabulary_mechanism"] = BudgetService.json(parts[2])
            }
        }
        return details
    }
}
