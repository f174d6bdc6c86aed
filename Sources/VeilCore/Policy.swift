/// The privacy and operating policy Veil runs under, as loaded from a YAML policy file
/// (`policies/default.yaml` documents every field). Values here are the built-in defaults, used for
/// any field a policy file leaves out. Loading and validation live in `VeilPolicy`.
public struct Policy: Sendable, Hashable, Codable {
    /// The dataset the budget belongs to.
    public var dataset: String = "default"
    public var budget = Budget()
    public var privacy = Privacy()
    public var training = Training()
    public var ingest = Ingest()
    public var queries = Queries()
    public var features = Features()
    public var sequences = Sequences()
    public var catalog = Catalog()
    /// The public list of product categories (group keys that need no partition selection).
    public var categories: [String] = ["electronics", "fashion", "home", "beauty", "sports", "books", "toys", "grocery"]
    /// The free-form event properties kept, by key, with the type and bounds a value must have
    /// (`properties:` in a policy file). An event's property under any other key, or outside its
    /// bounds, is dropped at ingest and counted; none is kept by default.
    public var properties: [String: PropertyRule] = [:]

    public init() {}

    /// Lifetime privacy budget of the dataset and the caps that share it out.
    public struct Budget: Sendable, Hashable, Codable {
        /// Lifetime ε cap for the dataset (all releases compose).
        public var totalEpsilon: Double = 10
        /// The δ of the lifetime guarantee.
        public var delta: Double = 1e-6
        /// The most ε one request may cost.
        public var maxEpsilonPerRequest: Double = 4
        /// Lifetime ε cap per role (e.g. `trainer`, `analyst`); a role not listed has only the dataset cap.
        public var perRole: [String: Double] = [:]
        /// Lifetime ε cap per principal (token name or `cli`); a principal not listed has only the other caps.
        public var perPrincipal: [String: Double] = [:]
        public init() {}
    }

    /// How releases are accounted.
    public struct Privacy: Sendable, Hashable, Codable {
        /// The accountant that composes releases and calibrates noise when a request names none.
        public var accountant: AccountantKind = .pld
        public init() {}
    }

    /// Defaults and rules for model training.
    public struct Training: Sendable, Hashable, Codable {
        /// Per-example (per-user) gradient clipping norm C.
        public var clippingNorm: Double = 1.0
        /// Whether non-private training may run at all (never servable). Off unless a policy turns it on.
        public var allowNonPrivate: Bool = false
        /// Whether reviewers may see a model card's exact holdout metrics over HTTP (labelled not for
        /// release). Off: every role sees only the differentially private ones.
        public var exactHoldoutMetrics: Bool = false
        /// The share of a private feature-row run's budget, in zCDP ρ, that pays for its private holdout
        /// metrics (`BudgetShare`); DP-SGD's σ is calibrated to what is left. In
        /// `evaluationShareRange`.
        public var evaluationShare: Double = 0.05
        /// The shares a policy may give the private evaluation: below 1 % its noise swamps the metrics
        /// of a typical holdout, above 50 % the evaluation costs more than the model.
        public static let evaluationShareRange: ClosedRange<Double> = 0.01...0.5
        /// Passes over the users when a request gives none.
        public var defaultEpochs: Int = 5
        /// Expected users per step when a request gives none.
        public var defaultBatchSize: Int = 512
        /// Adam's step size when a request gives none, in (0, `maxLearningRate`].
        public var defaultLearningRate: Double = 0.02
        /// The largest learning rate a policy or a request may give.
        public static let maxLearningRate = 10.0
        /// Defaults for one task, each replacing the section's own default for that task (and, when the
        /// entry names `models`, only for those families) when a request gives none (`task_defaults`).
        /// By default `next_item`'s GRU plan (`nextItemDefaults`); a policy's `task_defaults` replaces the
        /// whole map (`task_defaults: {}`: every task the section's defaults).
        public var taskDefaults: [TaskName: TaskDefaults] = [.nextItem: nextItemDefaults]
        /// `next_item` on a GRU at ε = 4 learns more from larger batches and steps than the other tasks
        /// (Recall@10 +0.01 to +0.05 on 50,000 synthetic users, `docs/models.md`); the CNN learns less
        /// from them, so it keeps the section's defaults. The batch needs 2,048 users.
        public static let nextItemDefaults = TaskDefaults(epochs: 20, batchSize: 2048, learningRate: 0.04, models: [.gru])

        /// One task's training defaults; nil: the section's default.
        public struct TaskDefaults: Sendable, Hashable, Codable {
            public var epochs: Int?
            public var batchSize: Int?
            public var learningRate: Double?
            /// The model families the entry is for; nil: every family.
            public var models: [ModelFamily]?

            public init(epochs: Int? = nil, batchSize: Int? = nil, learningRate: Double? = nil, models: [ModelFamily]? = nil) {
                self.epochs = epochs
                self.batchSize = batchSize
                self.learningRate = learningRate
                self.models = models
            }
        }

        /// The entry for `task` when it applies to `model`.
        func entry(_ task: TaskName, _ model: ModelFamily) -> TaskDefaults? {
            guard let entry = taskDefaults[task], entry.models?.contains(model) ?? true else { return nil }
            return entry
        }
        /// The epochs a request for `task` on `model` gets when it gives none.
        public func epochs(for task: TaskName, model: ModelFamily) -> Int { entry(task, model)?.epochs ?? defaultEpochs }
        /// The expected batch a request for `task` on `model` gets when it gives none.
        public func batchSize(for task: TaskName, model: ModelFamily) -> Int { entry(task, model)?.batchSize ?? defaultBatchSize }
        /// The learning rate a request for `task` on `model` gets when it gives none.
        public func learningRate(for task: TaskName, model: ModelFamily) -> Double {
            entry(task, model)?.learningRate ?? defaultLearningRate
        }
        /// The policy key the default batch of `task` on `model` comes from (for messages about a batch
        /// no request gave).
        public func batchSizeKey(for task: TaskName, model: ModelFamily) -> String {
            entry(task, model)?.batchSize != nil ? "training.task_defaults.\(task.rawValue).batch_size" : "training.default_batch_size"
        }
        public init() {}
    }

    /// Limits and minimisation at the front door.
    public struct Ingest: Sendable, Hashable, Codable {
        /// The most events one HTTP batch may hold.
        public var maxBatchEvents: Int = 10_000
        /// The largest HTTP request body, in bytes.
        public var maxBodyBytes: Int = 16 * 1024 * 1024
        /// Event fields removed before storage (data minimisation).
        public var dropFields: [String] = ["query"]
        /// How far in the future an event timestamp may be, in seconds.
        public var maxFutureSkewSeconds: Int = 300
        /// The earliest day an event may have happened on, as days since 1970-01-01 (UTC); earlier
        /// timestamps (year 0, a zeroed clock) are refused. Default 1990-01-01.
        public var earliestEventDay: Int = 7_305
        /// The largest unit price an event may carry (currency units).
        public var maxPrice: Double = 1_000_000
        /// The largest quantity an event may carry.
        public var maxQuantity: Int = 10_000
        public init() {}
    }

    /// Contribution bounds and public value bounds for DP queries.
    public struct Queries: Sendable, Hashable, Codable {
        public var maxGroupsPerUser: Int = 4
        public var maxContributionsPerGroup: Int = 10
        /// Public clamping bounds per value name (`revenue`, `quantity`, `order_value`, `basket_size`).
        public var valueBounds: [String: ValueBounds] = [
            "revenue": ValueBounds(lower: 0, upper: 500),
            "quantity": ValueBounds(lower: 1, upper: 10),
            "order_value": ValueBounds(lower: 0, upper: 1000),
            "basket_size": ValueBounds(lower: 1, upper: 20),
        ]
        public init() {}
    }

    /// Public upper bounds for model features (lower bounds are 0); features are clamped to them and scaled.
    public struct Features: Sendable, Hashable, Codable {
        public var maxEventsPerType: Double = 200
        public var maxDistinct: Double = 100
        public var maxDays: Double = 365
        public var maxSpend: Double = 5000
        public var maxOrderValue: Double = 1000
        public init() {}
    }
}

/// Public bounds for the input of sequence models (GRU, temporal CNN): how many of a user's events
/// they read, and the buckets that a time gap and a price fall into. Every bound comes from the policy,
/// never from the data, so the encoding itself releases nothing.
public struct Sequences: Sendable, Hashable, Codable {
    /// L: a sequence model reads each user's last L events before the cutoff.
    public var length: Int = 50
    /// Upper bounds, in seconds and increasing, of the buckets the time since a user's previous event
    /// falls into (a gap of at most `gapBoundsSeconds[i]` and more than the bound before goes to bucket
    /// i; a longer gap to one more bucket past the last).
    public var gapBoundsSeconds: [Double] = [60, 600, 3_600, 21_600, 86_400, 259_200, 604_800, 2_592_000]
    /// Upper bounds of the price buckets, in the shop's currency units, increasing (as for gaps).
    public var priceBounds: [Double] = [5, 10, 20, 50, 100, 200, 500, 1_000]
    /// Upper bounds, in seconds and increasing, of the buckets the time from a user's last event to the
    /// cutoff falls into (read as for gaps): the sequence models of tasks predicted as of the cutoff end
    /// each sequence with a marker carrying that bucket (`SequenceSchema.timeToCutoffBoundsSeconds`).
    /// 1 hour, 6 hours, then 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60 and 90 days.
    public var timeToCutoffBoundsSeconds: [Double] = [
        3_600, 21_600, 86_400, 172_800, 259_200, 432_000, 604_800, 864_000, 1_209_600, 1_814_400, 2_592_000,
        3_888_000, 5_184_000, 7_776_000,
    ]
    public init() {}
}

/// Where a sequence model's item vocabulary comes from (`ItemVocabulary`). Item IDs are not public the
/// way categories are, so the list is either a catalogue the shop publishes anyway (`itemsFile`) or chosen
/// by DP partition selection over the stored items, paid from the budget (at most `maxSelectedItems`).
public struct Catalog: Sendable, Hashable, Codable {
    /// A CSV file `item_id[,category]` (with that header) listing the public catalogue; a relative path
    /// is read from the policy file's directory. nil: select the vocabulary with DP.
    public var itemsFile: String?
    /// The most items DP partition selection keeps (the most frequent by noisy user count).
    public var maxSelectedItems: Int = 2_000
    public init() {}
}

/// A closed interval of public bounds for a value.
public struct ValueBounds: Sendable, Hashable, Codable {
    public var lower: Double
    public var upper: Double
    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }
}

/// What a free-form event property must be for Veil to keep it: a number of `type` within
/// `min...max` (public bounds, as every bound in a policy).
public struct PropertyRule: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A whole number.
        case int
        /// Any finite number.
        case number
    }

    public var type: Kind
    public var min: Double
    public var max: Double

    public init(type: Kind, min: Double, max: Double) {
        self.type = type
        self.min = min
        self.max = max
    }

    /// Whether `value` may be kept.
    public func admits(_ value: Double) -> Bool {
        value.isFinite && value >= min && value <= max && (type == .number || value == value.rounded())
    }
}
