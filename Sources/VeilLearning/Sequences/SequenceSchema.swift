import Foundation
import VeilCore

/// How a user's events become a sequence model's input: the last `length` events before the cutoff,
/// each as one token per field (`Field`), from public vocabularies and the policy's public bounds only.
///
/// Tokens per field (0 is always "absent"):
/// - `type`: the event type's index (`EventType.index`), never absent;
/// - `item`: 0 no item, 1 + the vocabulary index (`ItemVocabulary`; "other" is `1 + count`);
/// - `category`: 0 none, 1 + the index in the policy's categories, `1 + categories.count` for another;
/// - `gap`: 0 for the first event of the observation window, else 1 + the bucket of the seconds since the
///   previous event (`Policy.Sequences.gapBoundsSeconds`);
/// - `price`: 0 no price, else 1 + the bucket of the unit price (`priceBounds`).
///
/// A bucket is the first bound the value does not exceed; past the last bound is one more bucket.
///
/// With `timeToCutoffBoundsSeconds` (tasks predicted as of the cutoff), the sequence ends with one more
/// row after its events, the **cutoff marker**: type `cutoffMarkerType` (one past the event types), no
/// item, category or price, and as its gap the bucket of the time from the last event to the cutoff
/// under those bounds, in gap tokens of its own after the event gaps' (`cutoffMarkerTokens`). So the
/// encoder reads how long the user has been quiet after reading their rhythm, and can weigh the one by
/// the other (a week's silence means more after daily visits than after monthly ones); the head alone,
/// linear over the encoder's state and the context, cannot form that product. When serving, the cutoff
/// is the time of the prediction: one extractor, one definition. Schemas written before it decode
/// with none, and their sequences have no marker.
///
/// With `context` (wide and deep), each sequence also carries one row of per-user inputs that the
/// model's head reads beside the encoder's state (`contextWidth` values, all in [0, 1]): the
/// feature-row model's clamped aggregates over the whole observation window (`FeatureExtractor` under
/// `context`, the same code and bounds), then the time from the last event to the cutoff one-hot over
/// the gap buckets (`gapBoundsSeconds`: `gapBoundsSeconds.count + 1` columns). Only for tasks whose
/// targets sit at the last event (`TaskDefinition.readsContext`): the aggregates are as of the cutoff.
/// Schemas written before it decode with none.
public struct SequenceSchema: Sendable, Hashable, Codable {
    /// The fields of an event, in the order tokens are stored.
    public enum Field: Int, Sendable, CaseIterable, Codable {
        case type, item, category, gap, price
    }

    /// L: events per user, the most recent before the cutoff.
    public var length: Int
    public var categories: [String]
    public var gapBoundsSeconds: [Double]
    public var priceBounds: [Double]
    public var vocabulary: ItemVocabulary
    /// The aggregates each sequence carries beside its events; nil: none (the head reads the encoder only).
    public var context: FeatureSchema?
    /// The time-to-cutoff buckets of the cutoff marker that ends each sequence (increasing seconds, from
    /// `Policy.Sequences.timeToCutoffBoundsSeconds`); nil: no marker.
    public var timeToCutoffBoundsSeconds: [Double]?

    /// The schema without context or cutoff marker; set `context` and `timeToCutoffBoundsSeconds` (or call
    /// `readAsOfTheCutoff`) for a model whose targets sit at the last event.
    public init(policy: Policy, vocabulary: ItemVocabulary) {
        length = policy.sequences.length
        categories = policy.categories
        gapBoundsSeconds = policy.sequences.gapBoundsSeconds
        priceBounds = policy.sequences.priceBounds
        self.vocabulary = vocabulary
    }

    /// The schema a sequence model for `task` reads under `policy`: with the context (the aggregates of
    /// `FeatureSchema(policy:)`) and the cutoff marker when the task reads them (`readsContext`).
    public init(policy: Policy, vocabulary: ItemVocabulary, for task: any TaskDefinition) {
        self.init(policy: policy, vocabulary: vocabulary)
        if task.readsContext { readAsOfTheCutoff(features: FeatureSchema(policy: policy), policy: policy) }
    }

    /// The context (the feature-row aggregates of `features`) and the cutoff marker under `policy`'s
    /// bounds: what a task predicted as of the cutoff reads (`TaskDefinition.readsContext`).
    public mutating func readAsOfTheCutoff(features: FeatureSchema, policy: Policy) {
        context = features
        timeToCutoffBoundsSeconds = policy.sequences.timeToCutoffBoundsSeconds
    }

    /// Values per sequence beside the events: the context's features and the cutoff-gap buckets, or 0.
    public var contextWidth: Int { context.map { $0.features.count + gapBoundsSeconds.count + 1 } ?? 0 }

    /// The context's columns by name: the features', then `time_to_cutoff_le_<bound>s` per gap bound and
    /// `time_to_cutoff_gt_<last bound>s`. Empty without context.
    public var contextNames: [String] {
        guard let context else { return [] }
        let seconds = gapBoundsSeconds.map { String(format: "%.0f", $0) }
        return context.names + seconds.map { "time_to_cutoff_le_\($0)s" } + ["time_to_cutoff_gt_\(seconds.last ?? "0")s"]
    }

    /// Distinct tokens of `field` (the rows of its embedding table), the cutoff marker's included.
    public func tokenCount(_ field: Field) -> Int {
        let marker = timeToCutoffBoundsSeconds
        switch field {
        case .type: return EventType.allCases.count + (marker == nil ? 0 : 1)
        case .item: return vocabulary.count + 2
        case .category: return categories.count + 2
        case .gap: return gapBoundsSeconds.count + 2 + (marker.map { $0.count + 1 } ?? 0)
        case .price: return priceBounds.count + 2
        }
    }

    /// The embedding tables' rows, in `Field` order.
    public var tokenCounts: [Int] { Field.allCases.map(tokenCount) }

    /// The cutoff marker's type token: one past the event types' (`EventType.index`).
    public static let cutoffMarkerType = Int32(EventType.allCases.count)

    /// The cutoff marker's tokens in `Field` order for a last event `seconds` before the cutoff: type
    /// `cutoffMarkerType`, no item or category, as gap `gapBoundsSeconds.count + 1` + the bucket token of
    /// `seconds` under `timeToCutoffBoundsSeconds` (so after every event gap's token), no price. Nil when
    /// the schema has no marker.
    public func cutoffMarkerTokens(secondsToCutoff seconds: Double) -> [Int32]? {
        guard let bounds = timeToCutoffBoundsSeconds else { return nil }
        let gap = Int32(gapBoundsSeconds.count + 1) + Self.bucketToken(seconds, bounds: bounds)
        return [Self.cutoffMarkerType, 0, 0, gap, 0]
    }

    /// 1 + the bucket of `value` among increasing `bounds`: the first bound `value` does not exceed, or
    /// one past the last.
    static func bucketToken(_ value: Double, bounds: [Double]) -> Int32 {
        var bucket = 0
        while bucket < bounds.count && value > bounds[bucket] { bucket += 1 }
        return Int32(1 + bucket)
    }
}

/// Turns one user's events into a `SequenceExample`: the last `schema.length` events of the
/// observation window as tokens (then the cutoff marker when the schema has one), and the outcome in the
/// label horizon (`OutcomeTally`, as for rows). One sequence per user, so per-example clipping stays
/// user-level. Training and serving both read through it, serving with the prediction's time as cutoff.
///
/// Contract: `example(for:)` takes all of one user's events, in any order; they are read in
/// `StoredEvent.precedes` order (ties in time by item, type, then event ID), so the result depends
/// neither on the order given nor on the installation's keys. Nil when the user has no event in the
/// observation window.
public struct SequenceExtractor: Sendable {
    public let schema: SequenceSchema
    public let window: FeatureWindow
    /// The policy's categories by their bytes (`ExactText`), as `FeatureExtractor` reads them.
    private let categoryIndex: [ExactText: Int]
    /// The context's aggregates, read by the feature-row model's own extractor.
    private let rows: FeatureExtractor?

    public init(schema: SequenceSchema, window: FeatureWindow) {
        self.schema = schema
        self.window = window
        categoryIndex = Dictionary(uniqueKeysWithValues: schema.categories.enumerated().map { (ExactText($1), $0) })
        rows = schema.context.map { FeatureExtractor(schema: $0, window: window) }
    }

    public func example(for events: some Collection<StoredEvent>) -> SequenceExample? {
        guard let first = events.first else { return nil }
        let start = window.observationStart ?? .min
        var observed: [StoredEvent] = []
        var outcome = OutcomeTally(window: window)
        for event in events {
            if event.timestampMillis >= start && event.timestampMillis < window.cutoff {
                observed.append(event)
            } else {
                outcome.add(event, categoryIndex: categoryIndex)
            }
        }
        guard !observed.isEmpty else { return nil }
        observed.sort { $0.precedes($1) }
        let kept = max(0, observed.count - schema.length)..<observed.count
        var tokens: [Int32] = []
        tokens.reserveCapacity((kept.count + 1) * SequenceSchema.Field.allCases.count)
        for position in kept {
            let event = observed[position]
            let previous = position > 0 ? observed[position - 1].timestampMillis : nil
            tokens += self.tokens(of: event, previousMillis: previous)
        }
        let lastMillis = observed[observed.count - 1].timestampMillis
        if let marker = schema.cutoffMarkerTokens(secondsToCutoff: Double(window.cutoff - lastMillis) / 1000) {
            tokens += marker
        }
        return SequenceExample(
            pseudonym: first.pseudonym, tokens: tokens, outcome: outcome.outcome,
            context: context(of: events, lastMillis: lastMillis))
    }

    /// The sequence's context (`SequenceSchema.context`): the aggregates, then the cutoff gap one-hot.
    /// Empty without one.
    private func context(of events: some Collection<StoredEvent>, lastMillis: Int64) -> [Double] {
        guard let rows, let aggregates = rows.example(for: events)?.features else { return [] }
        var gap = [Double](repeating: 0, count: schema.gapBoundsSeconds.count + 1)
        let token = SequenceSchema.bucketToken(Double(window.cutoff - lastMillis) / 1000, bounds: schema.gapBoundsSeconds)
        gap[Int(token) - 1] = 1
        return aggregates + gap
    }

    /// One event's tokens in `Field` order.
    func tokens(of event: StoredEvent, previousMillis: Int64?) -> [Int32] {
        let item: Int32 = event.itemID.map { Int32(1 + schema.vocabulary.index(of: $0)) } ?? 0
        let category: Int32 = event.category.map { Int32(1 + (categoryIndex[ExactText($0)] ?? schema.categories.count)) } ?? 0
        let gap: Int32 = previousMillis.map {
            SequenceSchema.bucketToken(Double(event.timestampMillis - $0) / 1000, bounds: schema.gapBoundsSeconds)
        } ?? 0
        let price: Int32 = event.price.map { SequenceSchema.bucketToken($0, bounds: schema.priceBounds) } ?? 0
        return [Int32(event.type.index), item, category, gap, price]
    }
}

/// One user's sequence: `tokens` holds `SequenceSchema.Field.allCases.count` tokens per event, oldest
/// event first, `outcome` what happened in the horizon, and `context` the schema's per-user inputs
/// (`SequenceSchema.contextWidth` values; empty without context).
public struct SequenceExample: Sendable, Hashable {
    public var pseudonym: Pseudonym
    public var tokens: [Int32]
    public var outcome: Outcome
    public var context: [Double] = []

    /// Rows of the sequence: its events, then the cutoff marker when the schema has one.
    public var length: Int { tokens.count / SequenceSchema.Field.allCases.count }
}
