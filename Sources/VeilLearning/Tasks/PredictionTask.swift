import VeilCore

/// What a task predicts about a user and everything that depends on it: the labeller (from what
/// happened after the cutoff), the number of classes and so the output head, the metrics and the
/// baselines a model is shown beside. A new task is one new type conforming to this, listed once in
/// `PredictionTask.allCases`, and its name, a case of `TaskName` (in the same order); nothing else
/// switches on tasks.
public protocol TaskDefinition: Sendable {
    /// The stable name requests, policies, model cards and the registry use.
    var name: TaskName { get }
    /// The number of classes its labels range over under `schema` (2 for a binary task).
    func classCount(schema: FeatureSchema) -> Int
    /// The user's label from the horizon's outcome; nil when the user has none for this task.
    func label(_ outcome: Outcome) -> Int?
    /// Named baseline predictions for every holdout row, in the layout `evaluate` takes, computed from
    /// the training split's labels and the holdout's own features only.
    func baselines(holdout: LabeledDataset, train: LabeledDataset, schema: FeatureSchema) -> [String: [Double]]
    /// The held-out metrics of `probabilities` (one per row for 2 classes, `classCount` per row otherwise).
    func evaluate(probabilities: [Double], labels: [Int], classCount: Int) throws -> ModelEvaluation

    /// Whether only a sequence model can learn it (no feature-row model: `next_item`). Default false.
    var needsSequences: Bool { get }
    /// The classes of a sequence model's head under `schema` (2 for a binary task).
    func classCount(sequences schema: SequenceSchema) -> Int
    /// A sequence model's targets for `example`: one per event, the class to predict from the sequence up
    /// to that event, or -1 for none; nil when the user has no label for this task. Default: the
    /// outcome's label at the last event (`label(_:)`), nothing elsewhere.
    func targets(_ example: SequenceExample, schema: SequenceSchema) -> [Int32]?
    /// Whether a sequence model for it reads the per-user context beside the events
    /// (`SequenceSchema.context`: the aggregates and the time to the cutoff, as of the cutoff). Only a
    /// task whose targets are all at the last event may: a target at an earlier event would see
    /// aggregates of events after it. Default true.
    var readsContext: Bool { get }
    /// Whether a sequence model's classes are the item vocabulary's (item token t ≥ 1 is class t − 1), so
    /// the repeat path can score a user's own items (`SequenceArchitecture.repeatPath`). Default false.
    var classesAreItems: Bool { get }
    /// Where a sequence model's head for it can start under `schema` instead of its random draw, when a
    /// request asks (`HeadPrior`: public structure only, never data); nil: the task has none. Default nil.
    func headPrior(schema: SequenceSchema) -> HeadPrior?
}

extension TaskDefinition {
    public var needsSequences: Bool { false }
    public var readsContext: Bool { true }
    public var classesAreItems: Bool { false }
    public func headPrior(schema: SequenceSchema) -> HeadPrior? { nil }

    public func targets(_ example: SequenceExample, schema: SequenceSchema) -> [Int32]? {
        guard example.length > 0, let label = label(example.outcome) else { return nil }
        return [Int32](repeating: -1, count: example.length - 1) + [Int32(label)]
    }

    /// A sigmoid for a binary task, a softmax over the classes otherwise.
    public func head(schema: FeatureSchema) -> ModelArchitecture.Head {
        let classes = classCount(schema: schema)
        return classes == 2 ? .sigmoid : .softmax(classes: classes)
    }

    /// Binary metrics for 2 classes, multiclass metrics otherwise.
    public func evaluate(probabilities: [Double], labels: [Int], classCount: Int) throws -> ModelEvaluation {
        if classCount == 2 {
            return ModelEvaluation(binary: try BinaryPredictions(probabilities: probabilities, labels: labels).evaluate())
        }
        return ModelEvaluation(
            multiclass: try MulticlassPredictions(probabilities: probabilities, classCount: classCount, labels: labels)
                .evaluate())
    }
}

/// A task by name. The tasks Veil trains are the `static let`s below; `allCases` lists them, and
/// `init?(rawValue:)` finds one by its name.
public struct PredictionTask: RawRepresentable, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    public let definition: any TaskDefinition
    public var rawValue: String { definition.name.rawValue }
    /// The task's name, as a policy keys it (`training.task_defaults`).
    public var name: TaskName { definition.name }
    public var description: String { rawValue }

    /// Any purchase in the horizon.
    public static let purchase = PredictionTask(PurchaseTask())
    /// No event at all in the horizon.
    public static let churn = PredictionTask(ChurnTask())
    /// The category of the first purchase in the horizon, among the policy's categories.
    public static let nextCategory = PredictionTask(NextCategoryTask())

    /// The item of the next event with an item after the cutoff, over the item vocabulary (sequence
    /// models only).
    public static let nextItem = PredictionTask(NextItemTask())

    public static let allCases: [PredictionTask] = [.purchase, .churn, .nextCategory, .nextItem]

    init(_ definition: any TaskDefinition) { self.definition = definition }

    public init?(rawValue: String) {
        guard let found = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = found
    }

    public static func == (lhs: PredictionTask, rhs: PredictionTask) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let task = PredictionTask(rawValue: name) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "not a task; the tasks are \(Self.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self = task
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Held-out metrics of a model or a baseline: binary metrics for a binary task, multiclass metrics
/// otherwise.
public struct ModelEvaluation: Sendable, Encodable, Hashable {
    public var binary: BinaryEvaluation?
    public var multiclass: MulticlassEvaluation?
    /// Top-K recommendation quality (`next_item`).
    public var ranking: RankingEvaluation?

    public init(binary: BinaryEvaluation? = nil, multiclass: MulticlassEvaluation? = nil, ranking: RankingEvaluation? = nil) {
        self.binary = binary
        self.multiclass = multiclass
        self.ranking = ranking
    }

    /// ROC AUC for a binary task.
    public var rocAuc: Double? { binary?.rocAUC ?? nil }
}

extension LabeledDataset {
    /// The values of the feature `name` of `schema` in every row (0.5 each when the schema lacks it).
    func column(_ name: String, schema: FeatureSchema) -> [Double] {
        guard let index = schema.names.firstIndex(of: name) else { return labels.map { _ in 0.5 } }
        return (0..<rowCount).map { features[$0 * featureCount + index] }
    }

    /// The share of label-1 rows.
    var positiveRate: Double { Double(labels.reduce(0, +)) / Double(rowCount) }
}
