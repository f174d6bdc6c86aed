import Foundation
import VeilCore
import VeilLearning
import VeilPolicy

/// What a trainer asks for: `veil train` and `POST /v1/training-runs` both decode into this.
///
/// Every optional field falls back to a documented default (most from the policy); `validate` turns a
/// request into a `TrainingPlan` or throws a `VeilError` naming the field (the JSON key) and the rule.
/// These are the only training rules and defaults: the faces parse into a request and call `validate`
/// (through `TrainingService`), they never check a field themselves.
public struct TrainingRequest: Sendable, Codable, Hashable {
    /// The label horizon when a request gives none.
    public static let defaultHorizonDays = 14
    /// The hidden layers of an `mlp` when a request gives none.
    public static let defaultHiddenSizes = [64]
    /// GRU units or convolution channels of a `gru` or `cnn` when a request gives none.
    public static let defaultSequenceHidden = 64
    /// Embedding width of a `gru` or `cnn` when a request gives none.
    public static let defaultEmbeddingWidth = 32
    /// The share of `epsilon` that selects the item vocabulary of a sequence model when the policy names
    /// no catalogue and the request gives no `vocabulary_epsilon`.
    public static let defaultVocabularyShare = 0.1

    public var task: PredictionTask
    /// Target ε of the run (> 0). Required unless `nonPrivate`.
    public var epsilon: Double?
    /// δ of the guarantee, in (0, policy δ]; default the policy's `budget.delta`.
    public var delta: Double?
    public var model: ModelFamily
    /// Hidden layer widths for `mlp` (default `defaultHiddenSizes`); must be empty for `logistic`; one
    /// width (GRU units or convolution channels, default `defaultSequenceHidden`) for `gru` and `cnn`.
    public var hiddenSizes: [Int]?
    /// Embedding width of a `gru` or `cnn` (default `defaultEmbeddingWidth`).
    public var embeddingWidth: Int?
    /// L, events per user a `gru` or `cnn` reads (default and maximum: the policy's `sequences.length`).
    public var sequenceLength: Int?
    /// The ε of the DP selection of a sequence model's item vocabulary, when the policy names no
    /// catalogue: part of `epsilon` (the rest trains the model). Default `defaultVocabularyShare` × ε.
    public var vocabularyEpsilon: Double?
    /// How a `next_item` model is evaluated (default `RankingSplit.holdoutUsers`).
    public var evaluation: RankingSplit?
    /// Whether a `gru` or `cnn`'s head also reads each event's embedded row beside the encoder's state
    /// (the event path, `SequenceArchitecture.headReadsEvents`; default false).
    public var headReadsEvents: Bool?
    /// Whether a `gru` or `cnn`'s head starts at the task's prior instead of at random
    /// (`TaskDefinition.headPrior`: `next_category`'s favourite category by sessions; default false).
    public var headPrior: Bool?
    /// Whether a `next_item` `gru` or `cnn` lets a user's own items (those in the sequence) add to their
    /// scores (the repeat path, `SequenceArchitecture.repeatPath`; default true for `next_item`, refused
    /// for the other tasks, whose classes are not items).
    public var repeatPath: Bool?
    /// Passes over the users; default the policy's for the task and model (`Policy.Training.epochs(for:model:)`:
    /// `training.task_defaults.<task>.epochs`, else `training.default_epochs`).
    public var epochs: Int?
    /// Expected users per step B; default the policy's for the task and model (`task_defaults`, else
    /// `training.default_batch_size`).
    public var batchSize: Int?
    /// Per-user clipping norm C (> 0); default the policy's `training.clipping_norm`.
    public var clippingNorm: Double?
    /// Adam learning rate; default the policy's for the task and model (`task_defaults`, else
    /// `training.default_learning_rate`).
    public var learningRate: Double?
    /// Features come from before the cutoff, labels from the horizon after it (Unix ms, UTC).
    /// Default: `TrainingPlan.defaultCutoff` — the end of the UTC day of the latest stored event minus
    /// the horizon, the latest cutoff whose horizon the stored data covers.
    public var cutoffMillis: Int64?
    /// Observation window length in days before the cutoff; nil: everything before the cutoff.
    public var windowDays: Int?
    /// Label horizon in days after the cutoff (default `defaultHorizonDays`).
    public var horizonDays: Int?
    /// Seeds every generator (initialisation, sampling, noise). The noise is then predictable to anyone
    /// who knows the seed, which voids the privacy guarantee: for reproducibility tests on synthetic
    /// data only. Without a seed every generator is keyed from the CSPRNG.
    public var seed: UInt64?
    /// Train without differential privacy (only if the policy allows it). The model is marked
    /// `private: false` and can never be approved or served.
    public var nonPrivate: Bool

    public init(
        task: PredictionTask, epsilon: Double?, delta: Double? = nil, model: ModelFamily = .logistic,
        hiddenSizes: [Int]? = nil, embeddingWidth: Int? = nil, sequenceLength: Int? = nil,
        vocabularyEpsilon: Double? = nil, evaluation: RankingSplit? = nil, headReadsEvents: Bool? = nil, headPrior: Bool? = nil,
        repeatPath: Bool? = nil, epochs: Int? = nil, batchSize: Int? = nil, clippingNorm: Double? = nil,
        learningRate: Double? = nil, cutoffMillis: Int64? = nil, windowDays: Int? = nil, horizonDays: Int? = nil,
        seed: UInt64? = nil, nonPrivate: Bool = false
    ) {
        self.task = task
        self.epsilon = epsilon
        self.delta = delta
        self.model = model
        self.hiddenSizes = hiddenSizes
        self.embeddingWidth = embeddingWidth
        self.sequenceLength = sequenceLength
        self.vocabularyEpsilon = vocabularyEpsilon
        self.headReadsEvents = headReadsEvents
        self.headPrior = headPrior
        self.repeatPath = repeatPath
        self.evaluation = evaluation
        self.epochs = epochs
        self.batchSize = batchSize
        self.clippingNorm = clippingNorm
        self.learningRate = learningRate
        self.cutoffMillis = cutoffMillis
        self.windowDays = windowDays
        self.horizonDays = horizonDays
        self.seed = seed
        self.nonPrivate = nonPrivate
    }

    enum CodingKeys: String, CodingKey {
        case task, epsilon, delta, model, epochs, seed, evaluation
        case hiddenSizes = "hidden_sizes"
        case embeddingWidth = "embedding_width"
        case sequenceLength = "sequence_length"
        case vocabularyEpsilon = "vocabulary_epsilon"
        case headReadsEvents = "head_reads_events"
        case headPrior = "head_prior"
        case repeatPath = "repeat_path"
        case batchSize = "batch_size"
        case clippingNorm = "clipping_norm"
        case learningRate = "learning_rate"
        case cutoffMillis = "cutoff_ms"
        case windowDays = "window_days"
        case horizonDays = "horizon_days"
        case nonPrivate = "non_private"
    }

    /// Fields read but not written back: `cutoff` as text (`YYYY-MM-DD` or RFC 3339, the forms of
    /// `veil train --cutoff`), the alternative to `cutoff_ms`.
    enum DateKeys: String, CodingKey {
        case cutoff
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        task = try container.decode(PredictionTask.self, forKey: .task)
        epsilon = try container.decodeIfPresent(Double.self, forKey: .epsilon)
        delta = try container.decodeIfPresent(Double.self, forKey: .delta)
        model = try container.decodeIfPresent(ModelFamily.self, forKey: .model) ?? .logistic
        hiddenSizes = try container.decodeIfPresent([Int].self, forKey: .hiddenSizes)
        embeddingWidth = try container.decodeIfPresent(Int.self, forKey: .embeddingWidth)
        sequenceLength = try container.decodeIfPresent(Int.self, forKey: .sequenceLength)
        vocabularyEpsilon = try container.decodeIfPresent(Double.self, forKey: .vocabularyEpsilon)
        evaluation = try container.decodeIfPresent(RankingSplit.self, forKey: .evaluation)
        headReadsEvents = try container.decodeIfPresent(Bool.self, forKey: .headReadsEvents)
        headPrior = try container.decodeIfPresent(Bool.self, forKey: .headPrior)
        repeatPath = try container.decodeIfPresent(Bool.self, forKey: .repeatPath)
        epochs = try container.decodeIfPresent(Int.self, forKey: .epochs)
        batchSize = try container.decodeIfPresent(Int.self, forKey: .batchSize)
        clippingNorm = try container.decodeIfPresent(Double.self, forKey: .clippingNorm)
        learningRate = try container.decodeIfPresent(Double.self, forKey: .learningRate)
        cutoffMillis = try container.decodeIfPresent(Int64.self, forKey: .cutoffMillis)
        if let text = try decoder.container(keyedBy: DateKeys.self).decodeIfPresent(String.self, forKey: .cutoff) {
            guard cutoffMillis == nil else { throw VeilError(.invalidInput, field: "cutoff", "give either cutoff or cutoff_ms, not both") }
            guard let millis = DateText.millis(text) else { throw VeilError(.invalidInput, field: "cutoff", DateText.rule) }
            cutoffMillis = millis
        }
        windowDays = try container.decodeIfPresent(Int.self, forKey: .windowDays)
        horizonDays = try container.decodeIfPresent(Int.self, forKey: .horizonDays)
        seed = try container.decodeIfPresent(UInt64.self, forKey: .seed)
        nonPrivate = try container.decodeIfPresent(Bool.self, forKey: .nonPrivate) ?? false
    }

    /// Checks the request against its rules and the policy and fills in the defaults.
    /// `latestEventMillis` (the store's latest event time, nil when empty) decides the default cutoff;
    /// `now` that the horizon has ended. Whether the horizon holds events is the caller's check
    /// (`TrainingService` asks the store).
    public func validate(policy: Policy, latestEventMillis: Int64?, now: Date) throws -> TrainingPlan {
        func fail(_ field: String, _ rule: String) -> VeilError { VeilError(.invalidInput, field: field, rule) }
        if nonPrivate {
            guard policy.training.allowNonPrivate else {
                throw VeilError(
                    .forbidden, field: "non_private",
                    "the policy does not allow non-private training (training.allow_non_private is false)")
            }
            guard epsilon == nil else { throw fail("epsilon", "give either epsilon or non_private, not both") }
        } else {
            guard let epsilon else { throw fail("epsilon", "is required (a finite number > 0) unless non_private is set") }
            guard epsilon.isFinite && epsilon > 0 else { throw fail("epsilon", "must be a finite number > 0") }
        }
        let policyDelta = policy.budget.delta
        let delta = self.delta ?? policyDelta
        guard delta > 0 && delta <= policyDelta else {
            throw fail("delta", "must be in (0, \(policyDelta)] (the policy's budget.delta)")
        }
        let hidden: [Int]
        switch model {
        case .logistic:
            guard hiddenSizes?.isEmpty ?? true else { throw fail("hidden_sizes", "must be empty for model logistic; use model mlp") }
            hidden = []
        case .mlp:
            hidden = hiddenSizes ?? Self.defaultHiddenSizes
            guard !hidden.isEmpty, hidden.count <= 4, hidden.allSatisfy({ (1...4096).contains($0) }) else {
                throw fail("hidden_sizes", "an mlp needs 1 to 4 hidden layers of 1 to 4096 units each")
            }
        case .gru, .cnn:
            hidden = hiddenSizes ?? [Self.defaultSequenceHidden]
            guard hidden.count == 1, (1...1024).contains(hidden[0]) else {
                throw fail("hidden_sizes", "a \(model.rawValue) model needs one width of 1 to 1024 units")
            }
        }
        if task.definition.needsSequences && model.sequenceEncoder == nil {
            throw fail("model", "\(task.rawValue) needs a sequence model: gru or cnn")
        }
        if evaluation != nil && !task.definition.needsSequences {
            throw fail("evaluation", "goes with task next_item (the other tasks evaluate holdout users' labels)")
        }
        var sequence: TrainingPlan.Sequence?
        if model.sequenceEncoder != nil {
            let embedding = embeddingWidth ?? Self.defaultEmbeddingWidth
            guard (1...512).contains(embedding) else { throw fail("embedding_width", "must be between 1 and 512") }
            let length = sequenceLength ?? policy.sequences.length
            guard (1...policy.sequences.length).contains(length) else {
                throw fail("sequence_length", "must be between 1 and the policy's sequences.length (\(policy.sequences.length))")
            }
            if let vocabularyEpsilon {
                guard !nonPrivate, let epsilon, vocabularyEpsilon.isFinite, vocabularyEpsilon > 0, vocabularyEpsilon < epsilon else {
                    throw fail("vocabulary_epsilon", "must be a finite number > 0 and below epsilon (a private run's)")
                }
            }
            let schema = SequenceSchema(policy: policy, vocabulary: try ItemVocabulary(items: []), for: task.definition)
            if headPrior == true && task.definition.headPrior(schema: schema) == nil {
                throw fail("head_prior", "\(task.rawValue) has no head prior (next_category has one: the favourite category by sessions)")
            }
            let itemClasses = task.definition.classesAreItems
            if repeatPath == true && !itemClasses {
                throw fail("repeat_path", "goes with task next_item (its classes are items; \(task.rawValue)'s are not)")
            }
            sequence = TrainingPlan.Sequence(
                embeddingWidth: embedding, length: length,
                vocabularyEpsilon: nonPrivate ? nil : vocabularyEpsilon ?? epsilon.map { $0 * Self.defaultVocabularyShare },
                evaluation: evaluation ?? .holdoutUsers, headReadsEvents: headReadsEvents ?? false, headPrior: headPrior ?? false,
                repeatPath: repeatPath ?? itemClasses)
        } else {
            guard embeddingWidth == nil else { throw fail("embedding_width", "goes with model gru or cnn") }
            guard sequenceLength == nil else { throw fail("sequence_length", "goes with model gru or cnn") }
            guard vocabularyEpsilon == nil else { throw fail("vocabulary_epsilon", "goes with model gru or cnn") }
            guard headReadsEvents == nil else { throw fail("head_reads_events", "goes with model gru or cnn") }
            guard headPrior == nil else { throw fail("head_prior", "goes with model gru or cnn") }
            guard repeatPath == nil else { throw fail("repeat_path", "goes with model gru or cnn") }
        }
        let epochs = self.epochs ?? policy.training.epochs(for: task.name, model: model)
        guard (1...1000).contains(epochs) else { throw fail("epochs", "must be between 1 and 1000") }
        let batchSize = self.batchSize ?? policy.training.batchSize(for: task.name, model: model)
        guard batchSize >= 1 else { throw fail("batch_size", "must be at least 1") }
        let clip = clippingNorm ?? policy.training.clippingNorm
        guard clip.isFinite && clip > 0 else { throw fail("clipping_norm", "must be a finite number > 0") }
        let rate = learningRate ?? policy.training.learningRate(for: task.name, model: model)
        guard NumberRule.learningRate.accepts(rate) else { throw fail("learning_rate", NumberRule.learningRate.text) }
        let horizon = horizonDays ?? Self.defaultHorizonDays
        guard (1...365).contains(horizon) else { throw fail("horizon_days", "must be between 1 and 365 days") }
        if let windowDays { guard (1...36_500).contains(windowDays) else { throw fail("window_days", "must be between 1 and 36500 days") } }
        let day = FeatureWindow.millisPerDay
        let nowMillis = Int64(now.timeIntervalSince1970 * 1000)
        let cutoff: Int64
        if let cutoffMillis {
            cutoff = cutoffMillis
        } else if let latestEventMillis {
            cutoff = TrainingPlan.defaultCutoff(latestEventMillis: latestEventMillis, horizonDays: horizon)
        } else {
            throw VeilError(.invalidInput, field: "data", "there are no stored events to train on; ingest events first")
        }
        guard cutoff > 0 else { throw fail("cutoff", "must be after 1970-01-01") }
        guard cutoff + Int64(horizon) * day <= nowMillis else {
            throw fail("cutoff", "the label horizon (cutoff + \(horizon) days) must have ended; choose an earlier cutoff")
        }
        let window = FeatureWindow(
            observationStart: windowDays.map { cutoff - Int64($0) * day }, cutoff: cutoff,
            horizonEnd: cutoff + Int64(horizon) * day)
        return TrainingPlan(
            task: task, isPrivate: !nonPrivate, targetEpsilon: nonPrivate ? nil : epsilon, delta: delta, model: model,
            hiddenSizes: hidden, sequence: sequence, epochs: epochs, batchSize: batchSize, clippingNorm: clip,
            learningRate: rate, window: window, windowDays: windowDays, horizonDays: horizon, seed: seed,
            accountant: policy.privacy.accountant, evaluationShare: policy.training.evaluationShare)
    }
}

/// How a `next_item` model's ranking metrics are measured.
///
/// - `holdout_users`: the keyed 20 % of users are held out; the model trains on the others and is
///   evaluated on each holdout user's first item after the cutoff.
/// - `leave_last_out` (RecBole's leave-one-out): every user's last event with an item before the cutoff
///   is held out; the model and the baselines train on every user's events before it and are evaluated
///   on every user's held-out item, so every user with an earlier event counts (interaction logs whose
///   users rarely act on both sides of a cutoff).
public enum RankingSplit: String, Sendable, Hashable, Codable, CaseIterable {
    case holdoutUsers = "holdout_users"
    case leaveLastOut = "leave_last_out"
}

/// A validated training request with every default filled in.
public struct TrainingPlan: Sendable, Hashable {
    public var task: PredictionTask
    public var isPrivate: Bool
    public var targetEpsilon: Double?
    public var delta: Double
    public var model: ModelFamily
    public var hiddenSizes: [Int]
    /// The sequence settings of a `gru` or `cnn`; nil for the feature-row families.
    public var sequence: Sequence?
    public var epochs: Int
    public var batchSize: Int
    public var clippingNorm: Double
    public var learningRate: Double
    public var window: FeatureWindow
    public var windowDays: Int?
    public var horizonDays: Int
    public var seed: UInt64?
    /// The accountant σ is calibrated with and ε is reported by: the policy's, which the ledger charges with.
    public var accountant: AccountantKind
    /// The share of a private feature-row run's budget (zCDP ρ) that pays for its private evaluation:
    /// the policy's `training.evaluation_share` (`BudgetShare`).
    public var evaluationShare: Double

    public init(
        task: PredictionTask, isPrivate: Bool, targetEpsilon: Double?, delta: Double, model: ModelFamily,
        hiddenSizes: [Int], sequence: Sequence? = nil, epochs: Int, batchSize: Int, clippingNorm: Double,
        learningRate: Double, window: FeatureWindow, windowDays: Int?, horizonDays: Int, seed: UInt64?,
        accountant: AccountantKind, evaluationShare: Double = Policy.Training().evaluationShare
    ) {
        self.task = task
        self.isPrivate = isPrivate
        self.targetEpsilon = targetEpsilon
        self.delta = delta
        self.model = model
        self.hiddenSizes = hiddenSizes
        self.sequence = sequence
        self.epochs = epochs
        self.batchSize = batchSize
        self.clippingNorm = clippingNorm
        self.learningRate = learningRate
        self.window = window
        self.windowDays = windowDays
        self.horizonDays = horizonDays
        self.seed = seed
        self.accountant = accountant
        self.evaluationShare = evaluationShare
    }

    /// The default cutoff: the end of the UTC day holding the latest stored event (the next 00:00 UTC)
    /// minus `horizonDays` days. The label horizon then ends where the stored data does, so it is as
    /// late as it can be while still complete (data generated for days [start, start + d) gives
    /// start + d − horizon, the same cutoff as `veil generate --truth`).
    public static func defaultCutoff(latestEventMillis: Int64, horizonDays: Int) -> Int64 {
        dataEnd(latestEventMillis: latestEventMillis) - Int64(horizonDays) * FeatureWindow.millisPerDay
    }

    /// Where the stored data ends: the next 00:00 UTC after the latest stored event. A label horizon
    /// ending later would count users as churned only because their events are not stored yet.
    public static func dataEnd(latestEventMillis: Int64) -> Int64 {
        let day = FeatureWindow.millisPerDay
        return (max(latestEventMillis, 0) / day + 1) * day
    }

    /// A sequence model's settings.
    public struct Sequence: Sendable, Hashable {
        public var embeddingWidth: Int
        /// L, events per user.
        public var length: Int
        /// The ε of the DP vocabulary selection when the policy names no catalogue (private runs only).
        public var vocabularyEpsilon: Double?
        /// How `next_item` is evaluated.
        public var evaluation: RankingSplit = .holdoutUsers
        /// Whether the head also reads each event's embedded row (the event path).
        public var headReadsEvents = false
        /// Whether the head starts at the task's prior (`TaskDefinition.headPrior`).
        public var headPrior = false
        /// Whether a user's own items add to their scores (the repeat path; `next_item` only).
        public var repeatPath = false
    }

    public var optimizer: Optimizer { .adam(learningRate: learningRate) }

    /// The DP-SGD settings of a private run of this plan with σ `noiseMultiplier` over `population` users.
    public func dpsgd(noiseMultiplier: Double, population: Int) -> DPSGDConfiguration {
        DPSGDConfiguration(
            noiseMultiplier: noiseMultiplier, clippingNorm: clippingNorm, expectedBatchSize: min(batchSize, population),
            epochs: epochs, optimizer: optimizer, population: population)
    }

    /// The network shape for `inputSize` features and the task's output head under `schema`.
    public func architecture(inputSize: Int, schema: FeatureSchema) throws -> ModelArchitecture {
        try ModelArchitecture(inputSize: inputSize, hiddenSizes: hiddenSizes, head: task.definition.head(schema: schema))
    }
}
