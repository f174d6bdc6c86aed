import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilPrivacy
import VeilStore

/// The steps of a sequence-model training run that do not touch the ledger or the registry: reading
/// each user's sequence (and, for the baselines, their feature row), building the task's targets,
/// fitting and evaluating. `TrainingService` runs them after the budget is reserved.
public enum SequencePipeline {
    /// One user's sequence and feature row, from the same events and window.
    public struct UserSequence: Sendable {
        public var sequence: SequenceExample
        public var row: UserExample
    }

    /// K of the ranking metrics on a `next_item` card.
    public static let rankingK = 10

    /// Reads every event once and returns each user with an event in the observation window.
    public static func examples(
        from store: any EventStore, sequences: SequenceExtractor, rows: FeatureExtractor, progress: (Int) -> Void = { _ in }
    ) async throws -> [UserSequence] {
        try await TrainingPipeline.perUser(from: store, progress: progress) { events in
            guard let sequence = sequences.example(for: events), let row = rows.example(for: events) else { return nil }
            return UserSequence(sequence: sequence, row: row)
        }
    }

    /// The task's targets over `examples` (users without any are left out), or nil when none has one.
    public static func dataset(_ examples: [SequenceExample], task: PredictionTask, schema: SequenceSchema) throws -> SequenceDataset? {
        let definition = task.definition
        let data = try SequenceDataset(
            examples: examples, schema: schema, classCount: definition.classCount(sequences: schema)
        ) { example in
            guard let targets = definition.targets(example, schema: schema), targets.contains(where: { $0 >= 0 }) else { return nil }
            return targets
        }
        return data.exampleCount > 0 ? data : nil
    }

    /// Trains the plan's sequence model on `train`: DP-SGD with σ `noiseMultiplier` and q = B /
    /// `population` when the plan is private, plain minibatch SGD otherwise; the head starts at
    /// `headPrior` when given (`TaskDefinition.headPrior`).
    public static func fit(
        plan: TrainingPlan, architecture: SequenceArchitecture, train: SequenceDataset, population: Int,
        noiseMultiplier: Double?, headPrior: HeadPrior? = nil, progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> (network: SequenceNetwork, report: TrainingReport) {
        var (initial, sampling, noiseGenerator) = TrainingPipeline.generators(seed: plan.seed)
        let schedule = try TrainingPipeline.Schedule(
            plan: plan, exampleCount: train.exampleCount, population: population, noiseMultiplier: noiseMultiplier)
        var noise = GaussianNoise(generator: noiseGenerator)
        return try SequenceNetwork.train(
            architecture, on: train, trainer: schedule.trainer, headPrior: headPrior, initial: &initial, sampling: &sampling,
            noise: &noise
        ) { progress(schedule.progress(plan: plan, epoch: $0)) }
    }

    /// What `evaluate` measures on the holdout users: the model's exact metrics, its baselines', the
    /// users evaluated, and the holdout histogram that a private run releases with noise
    /// (`TrainingPipeline.privateEvaluation`): one count per evaluated user.
    public struct Evaluation: Sendable {
        public var metrics: ModelEvaluation
        public var baselines: [String: ModelEvaluation]
        public var holdoutCount: Int
        public var histogram: HoldoutHistogram
    }

    /// Held-out metrics of `network` and the baselines beside it, and its holdout histogram.
    ///
    /// - `next_item`: Recall@K, NDCG@K, MRR@K and coverage (`RankingEvaluation`, K = `rankingK`) over the
    ///   holdout users whose next item is in the vocabulary, "other" never recommended; baselines
    ///   `popularity` and `transition` (`PopularityRecommender`, `TransitionRecommender`) counted on the
    ///   training users' sequences, and `repeat` (the user's own items, most recent first, then
    ///   popularity: `PopularityRecommender.recommend(k:ownItemsFirst:)`).
    /// - the other tasks: the task's metrics on the label at the last event, and beside them the task's
    ///   own baselines and `logistic` — today's logistic model trained on the same training users' feature
    ///   rows with the same plan, σ, q and steps (so at the same ε), scored on the same holdout users.
    ///
    /// The histogram: for `next_item` the rank (1…K, or "not in the top K") of each evaluated user's
    /// next item among the model's recommendations; otherwise the task's score or top-label histogram of
    /// the label at the last event, as for a feature-row model.
    public static func evaluate(
        network: SequenceNetwork, plan: TrainingPlan, schema: SequenceSchema, features: FeatureSchema,
        train: [UserSequence], holdout: [UserSequence], population: Int, noiseMultiplier: Double?
    ) throws -> Evaluation? {
        if plan.task.definition.needsSequences {
            return try evaluateRanking(network: network, schema: schema, train: train, holdout: holdout)
        }
        let definition = plan.task.definition
        let labelled = holdout.filter { $0.sequence.outcome.label(for: plan.task) != nil }
        guard let trainRows = try TrainingPipeline.dataset(train.map(\.row), task: plan.task, schema: features),
            let holdoutRows = try TrainingPipeline.dataset(labelled.map(\.row), task: plan.task, schema: features),
            let sequences = try dataset(labelled.map(\.sequence), task: plan.task, schema: schema)
        else { return nil }
        func evaluation(_ probabilities: [Double]) throws -> ModelEvaluation {
            try definition.evaluate(probabilities: probabilities, labels: holdoutRows.labels, classCount: holdoutRows.classCount)
        }
        let probabilities = try network.probabilities(atLastEventOf: sequences).map { min(max($0, 0), 1) }
        let metrics = try evaluation(probabilities)
        var baselines = try definition.baselines(holdout: holdoutRows, train: trainRows, schema: features).mapValues(evaluation)
        var logisticPlan = plan
        logisticPlan.model = .logistic
        logisticPlan.hiddenSizes = []
        logisticPlan.sequence = nil
        let logistic = try TrainingPipeline.fit(
            plan: logisticPlan, train: trainRows, schema: features, population: population, noiseMultiplier: noiseMultiplier)
        baselines["logistic"] = try TrainingPipeline.evaluate(
            network: logistic.network, holdout: holdoutRows, train: trainRows, task: plan.task, schema: features
        ).metrics
        let histogram = try TrainingPipeline.holdoutHistogram(
            probabilities: probabilities, labels: holdoutRows.labels, classCount: holdoutRows.classCount)
        return Evaluation(metrics: metrics, baselines: baselines, holdoutCount: holdoutRows.rowCount, histogram: histogram)
    }

    /// RecBole's leave-one-out (`RankingSplit.leaveLastOut`): each user's last event with an item is held
    /// out. Both sides hold the events before it (so `train` teaches nothing about the held-out item: its
    /// last event has no target); `holdout`'s users carry the held-out item as their next item (nil when
    /// it is outside the vocabulary, so the ranking metrics leave them out, as for held-out users). Users
    /// without an event before their last item are left out of both.
    public static func leaveLastOut(
        _ users: [UserSequence], schema: SequenceSchema
    ) -> (train: [UserSequence], holdout: [UserSequence]) {
        let fields = SequenceSchema.Field.allCases.count
        let itemField = SequenceSchema.Field.item.rawValue
        var train: [UserSequence] = []
        var holdout: [UserSequence] = []
        for user in users {
            let example = user.sequence
            guard let last = (0..<example.length).last(where: { example.tokens[$0 * fields + itemField] != 0 }), last > 0
            else { continue }
            var before = user
            before.sequence.tokens = Array(example.tokens[..<(last * fields)])
            before.sequence.outcome.nextItem = nil
            train.append(before)
            // Item tokens are 1 + the vocabulary index; "other" has no item name.
            before.sequence.outcome.nextItem = schema.vocabulary.item(at: Int(example.tokens[last * fields + itemField]) - 1)
            holdout.append(before)
        }
        return (train, holdout)
    }

    /// The items of a sequence in the vocabulary, oldest first ("other" and item-less events left out).
    static func vocabularyItems(_ example: SequenceExample, schema: SequenceSchema) -> [Int] {
        let fields = SequenceSchema.Field.allCases.count
        let field = SequenceSchema.Field.item.rawValue
        return (0..<example.length).compactMap { position in
            let index = Int(example.tokens[position * fields + field]) - 1
            return index >= 0 && index < schema.vocabulary.count ? index : nil
        }
    }

    private static func evaluateRanking(
        network: SequenceNetwork, schema: SequenceSchema, train: [UserSequence], holdout: [UserSequence]
    ) throws -> Evaluation? {
        let vocabulary = schema.vocabulary
        let evaluated = holdout.filter { user in
            user.sequence.outcome.nextItem.map { vocabulary.index(of: $0) < vocabulary.count } ?? false
        }
        let trainSequences = train.map { vocabularyItems($0.sequence, schema: schema) }
        guard !evaluated.isEmpty, trainSequences.contains(where: { !$0.isEmpty }) else { return nil }
        let targets = evaluated.map { vocabulary.index(of: $0.sequence.outcome.nextItem!) }
        let sequences = try SequenceDataset(
            examples: evaluated.map(\.sequence), schema: schema, classCount: vocabulary.count + 1
        ) { Array(repeating: -1, count: $0.length) }
        let classes = vocabulary.count + 1
        let probabilities = try network.probabilities(atLastEventOf: sequences)
        let other: Set = [vocabulary.otherIndex]
        let rankings = (0..<evaluated.count).map { user in
            TopK.indices(of: Array(probabilities[(user * classes)..<((user + 1) * classes)]), k: rankingK, excluding: other)
        }
        func ranking(_ lists: [[Int]]) throws -> ModelEvaluation {
            ModelEvaluation(
                ranking: try RankingEvaluation(rankings: lists, nextItems: targets, k: rankingK, catalogueSize: vocabulary.count))
        }
        let transition = try TransitionRecommender(trainingSequences: trainSequences, itemCount: vocabulary.count)
        let popular = transition.popularity.recommend(k: rankingK)
        let ownItems = evaluated.map { vocabularyItems($0.sequence, schema: schema) }
        let baselines = [
            "popularity": try ranking(evaluated.map { _ in popular }),
            "transition": try ranking(ownItems.map { transition.recommend(after: $0.last, k: rankingK) }),
            "repeat": try ranking(ownItems.map { transition.popularity.recommend(k: rankingK, ownItemsFirst: $0) }),
        ]
        let ranks = zip(rankings, targets).map { list, target in list.firstIndex(of: target).map { $0 + 1 } }
        return Evaluation(
            metrics: try ranking(rankings), baselines: baselines, holdoutCount: evaluated.count,
            histogram: HoldoutHistogram(ranks: ranks, k: rankingK))
    }
}
