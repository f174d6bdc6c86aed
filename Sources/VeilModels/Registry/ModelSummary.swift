import VeilCore
import VeilStore

/// One row of the models list (`veil models list`, `GET /v1/models`): the registry record and, from the
/// model's card, what a reviewer scans a list for — the model kind, the data window and the headline
/// private metric with its 95% interval. Encoded flat: the record's keys, then `model_kind`,
/// `data_window` and `headline` (each left out when the card lacks it, or when the artifact cannot be
/// read: the list still shows the record).
///
/// Privacy: the headline is read from `private_metrics` only — a differentially private estimate paid
/// inside the run's ε — never from the exact holdout metrics, so the list is the same for every role.
public struct ModelSummary: Sendable, Encodable {
    /// The headline metric of a card's private metrics, by its histogram: ROC AUC for a binary task,
    /// top-1 accuracy for a multiclass one.
    public static let headlineMetrics = ["binary_score_histogram": "roc_auc", "top_label_histogram": "top1_accuracy"]

    /// A private metric and its 95% interval; the value is nil when the noisy counts could not form it
    /// (e.g. a noisy class total ≤ 0 on a small holdout), the interval when too few replicates could.
    public struct Headline: Sendable, Encodable, Equatable {
        public var metric: String
        public var value: Double?
        public var low: Double?
        public var high: Double?
        /// Always true: the headline is a differentially private estimate.
        public var differentiallyPrivate = true
    }

    public var record: ModelRecord
    public var modelKind: String?
    /// The card's `data_window` as stored (`observation_start`, `cutoff`, `horizon_end`, …).
    public var dataWindow: JSONValue?
    public var headline: Headline?

    /// The summary of `record` from its stored `card` (nil when the artifact could not be read).
    public init(record: ModelRecord, card: [String: JSONValue]?) {
        self.record = record
        guard let card else { return }
        if case .object(let model)? = card["model"], case .string(let kind)? = model["kind"] { modelKind = kind }
        dataWindow = card["data_window"]
        guard case .object(let evaluation)? = card["private_metrics"], case .string(let histogram)? = evaluation["histogram"],
            let name = Self.headlineMetrics[histogram]
        else { return }
        let estimate = evaluation["metrics"]?.objectValue?[name]?.objectValue ?? [:]
        headline = Headline(metric: name, value: estimate["value"]?.number, low: estimate["low"]?.number, high: estimate["high"]?.number)
    }

    private enum Keys: String, CodingKey {
        case modelKind = "model_kind"
        case dataWindow = "data_window"
        case headline
    }

    private enum HeadlineKeys: String, CodingKey {
        case metric, value, low, high
        case differentiallyPrivate = "differentially_private"
    }

    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encodeIfPresent(modelKind, forKey: .modelKind)
        try container.encodeIfPresent(dataWindow, forKey: .dataWindow)
        if let headline {
            var nested = container.nestedContainer(keyedBy: HeadlineKeys.self, forKey: .headline)
            try nested.encode(headline.metric, forKey: .metric)
            try nested.encodeIfPresent(headline.value, forKey: .value)
            try nested.encodeIfPresent(headline.low, forKey: .low)
            try nested.encodeIfPresent(headline.high, forKey: .high)
            try nested.encode(headline.differentiallyPrivate, forKey: .differentiallyPrivate)
        }
    }
}

extension ModelRegistry {
    /// Every model, newest first (as `list`), each with its card's summary (`ModelSummary`). One
    /// unreadable artifact does not hide the others: its row has the record alone.
    public func summaries() async throws -> [ModelSummary] {
        var summaries: [ModelSummary] = []
        for record in try await list() {
            let card = try? ModelFile.cardJSON(try await artifact(id: record.id))
            summaries.append(ModelSummary(record: record, card: card))
        }
        return summaries
    }
}
