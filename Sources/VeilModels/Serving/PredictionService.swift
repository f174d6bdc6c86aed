import Foundation
import Synchronization
import VeilCore
import VeilCrypto
import VeilLearning
import VeilStore

/// One prediction as both faces return it. Carries the pseudonym, never the raw user ID.
public struct Prediction: Sendable, Codable, Hashable {
    public var pseudonym: String
    public var task: String
    /// P(label = 1) for `purchase` and `churn`; for `next_category`, the probability of `category`; for
    /// `next_item`, the probability of `item`.
    public var score: Double
    /// `next_category` only: the most likely category.
    public var category: String?
    /// `next_item` only: the most likely item of the vocabulary ("other" never).
    public var item: String?
    public var modelId: String
    public var modelEpsilon: Double?
    /// The time scored as of and whether the stored events reach it (`stale`).
    public var freshness: DataFreshness

    enum CodingKeys: String, CodingKey {
        case pseudonym, task, score, category, item, freshness
        case modelId = "model_id"
        case modelEpsilon = "model_epsilon"
    }
}

/// Whom to predict for: a raw user ID (pseudonymised in memory, never stored) or a pseudonym.
public enum PredictionSubject: Sendable, Hashable {
    case userID(String)
    case pseudonym(Pseudonym)
}

/// What `score` did.
public struct ScoreSummary: Sendable, Codable, Hashable {
    public var modelId: String
    public var task: String
    /// Rows written (users with an event in the model's observation window).
    public var scored: Int
    /// Users seen with no event in the window (not written).
    public var skipped: Int
    /// The time scored as of and whether the stored events reach it.
    public var freshness: DataFreshness

    enum CodingKeys: String, CodingKey {
        case task, scored, skipped, freshness
        case modelId = "model_id"
    }
}

/// The prediction use case: the approved model for a task scores users from their events.
///
/// Contract:
/// - Only the model `ModelRegistry.serving(task:)` returns (the latest approved one) is used; with no
///   approved model every call fails with `.notFound` naming `task`.
/// - Features are computed as at training, with the model's own feature schema (from its card), from
///   the user's events before `at` (default now; `ServingTime.resolve` refuses a time in the future),
///   over the model's observation window length.
/// - Every answer says whether the stored events reach `at` (`DataFreshness.stale`).
/// - A user with no event in that window cannot be scored: in a batch that subject's entry is a
///   `SubjectFailure` (`not_found`) and the others are scored; alone, it is `.notFound`, field `pseudonym`.
/// - Loaded networks are cached per model id (a model file never changes: its name is its hash).
/// - Served predictions are counted per model and day (`tally`) and reach the audit log when
///   `flushCounts` is called, not per request.
public final class PredictionService: Sendable {
    /// The most subjects one batch may hold.
    public static let maxBatch = 1000

    private let pseudonymizer: Pseudonymizer
    private let events: any EventStore
    private let models: ModelRegistry
    private let audit: any AuditRecording
    private let clock: WallClock
    private let cache = Mutex<[String: ServingModel]>([:])
    /// The predictions this service served, per model and day, until they are written to the audit log
    /// (`flushCounts`).
    public let tally = PredictionTally()

    /// `clock` gives the default `at` of a prediction or scoring: now.
    public init(
        pseudonymizer: Pseudonymizer, events: any EventStore, models: ModelRegistry, audit: any AuditRecording,
        clock: WallClock = .system
    ) {
        self.pseudonymizer = pseudonymizer
        self.events = events
        self.models = models
        self.audit = audit
        self.clock = clock
    }

    public func predict(userID: String, task: PredictionTask, at time: Date? = nil) async throws -> Prediction {
        try await predict([.userID(userID)], task: task, at: time)[0].get()
    }

    public func predict(pseudonym: Pseudonym, task: PredictionTask, at time: Date? = nil) async throws -> Prediction {
        try await predict([.pseudonym(pseudonym)], task: task, at: time)[0].get()
    }

    /// One outcome per subject, in order: a prediction, or (for a subject with no event in the
    /// model's window) a `SubjectFailure`. Fails as a whole only for what concerns every subject: no
    /// approved model, a bad `at`, more than `maxBatch` subjects, a store that cannot be read.
    public func predict(
        _ subjects: [PredictionSubject], task: PredictionTask, at time: Date? = nil
    ) async throws -> [SubjectOutcome<Prediction>] {
        let batch = try await self.batch(subjects, task: task, at: time, excludingSeen: false)
        guard !batch.served.isEmpty else { return batch.outcomes([]) }
        let predictions = try batch.model.predictions(
            pseudonyms: batch.served.map(\.pseudonym), inputs: batch.served.map(\.input), freshness: batch.freshness)
        tally.count(predictions.count, modelID: batch.model.id, task: task.rawValue, at: clock.now())
        return batch.outcomes(predictions)
    }

    /// The top `k` items of the approved `next_item` model for each of up to `maxBatch` subjects: one
    /// outcome per subject, in order, a `Recommendation` or (for a subject with no event in the model's
    /// window) a `SubjectFailure`. Fails as a whole only as `predict` does, or for a `k` outside
    /// 1…`Recommendation.maxK`. `excludeSeen` leaves out items the user bought before `at`; "other" is
    /// never recommended.
    public func recommend(
        _ subjects: [PredictionSubject], k: Int = 10, excludeSeen: Bool = false, at time: Date? = nil
    ) async throws -> [SubjectOutcome<Recommendation>] {
        try Recommendation.validate(k: k)
        let batch = try await self.batch(subjects, task: .nextItem, at: time, excludingSeen: excludeSeen)
        guard !batch.served.isEmpty else { return batch.outcomes([]) }
        let lists = try batch.model.topItems(of: batch.served.map(\.input), k: k, excluding: batch.served.map(\.seen))
        tally.count(lists.count, modelID: batch.model.id, task: PredictionTask.nextItem.rawValue, at: clock.now())
        return batch.outcomes(
            zip(batch.served, lists).map { subject, items in
                Recommendation(pseudonym: subject.pseudonym.hex, model: batch.model, items: items, freshness: batch.freshness)
            })
    }

    /// What one batch of subjects is served from: the approved model for `task`, the time resolved
    /// once, each subject's input (and with `excludingSeen`, the items it bought before that time), and
    /// a failure for each subject with no event in the model's window.
    private func batch(
        _ subjects: [PredictionSubject], task: PredictionTask, at time: Date?, excludingSeen: Bool
    ) async throws -> ServingBatch {
        guard !subjects.isEmpty else { throw VeilError(.invalidInput, field: "subjects", "give at least one user_id or pseudonym") }
        guard subjects.count <= Self.maxBatch else {
            throw VeilError(.tooLarge, field: "subjects", "at most \(Self.maxBatch) subjects per request, got \(subjects.count)")
        }
        let atMillis = try ServingTime.resolve(time, now: clock.now())
        let model = try await servingModel(task: task)
        let extractor = model.extractor(atMillis: atMillis)
        var batch = ServingBatch(
            model: model, freshness: model.freshness(atMillis: atMillis, latestEventMillis: try await events.latestEventMillis()),
            count: subjects.count)
        for (index, subject) in subjects.enumerated() {
            let pseudonym: Pseudonym
            switch subject {
            case .userID(let id): pseudonym = pseudonymizer.pseudonym(for: id)
            case .pseudonym(let value): pseudonym = value
            }
            let history = try await events.events(for: pseudonym)
            guard let input = extractor.input(for: history) else {
                let field = subjects.count == 1 ? "pseudonym" : "subjects[\(index)]"
                batch.failures.append(
                    SubjectFailure(
                        index: index, pseudonym: pseudonym,
                        VeilError(
                            .notFound, field: field,
                            "pseudonym \(pseudonym.hex) has no event in the model's observation window before \(ModelFile.isoTime(millis: extractor.window.cutoff))"
                                + (batch.freshness.warning.map { " (\($0))" } ?? ""))))
                continue
            }
            let seen = excludingSeen ? model.boughtItems(history, before: extractor.window.cutoff) : []
            batch.served.append(.init(index: index, pseudonym: pseudonym, input: input, seen: seen))
        }
        return batch
    }

    /// Writes the prediction counts not yet in the audit log (`model.predictions`, one record per model
    /// and day) as `actor`; see `PredictionTally`.
    @discardableResult
    public func flushCounts(actor: String) async throws -> Int {
        try await tally.flush(to: audit, actor: actor)
    }

    /// Scores every user with an event in the model's window and writes CSV (header first) through
    /// `write`, in pseudonym order: `pseudonym,score` for a binary or category task, and for `next_item`
    /// `pseudonym,rank,item,score`, the user's top `k` items (rank 1 first; "other" never). `progress`
    /// gets the number of users read. Audited as `model.score` by `principal`; the users scored are also
    /// counted in `tally`, as served predictions are (`model.predictions` at the next `flushCounts`).
    public func score(
        task: PredictionTask, k: Int = 10, at time: Date? = nil, principal: String, write: (String) throws -> Void,
        progress: (Int) -> Void = { _ in }
    ) async throws -> ScoreSummary {
        try Recommendation.validate(k: k)
        let model = try await servingModel(task: task)
        let atMillis = try ServingTime.resolve(time, now: clock.now())
        let extractor = model.extractor(atMillis: atMillis)
        let freshness = model.freshness(atMillis: atMillis, latestEventMillis: try await events.latestEventMillis())
        var summary = ScoreSummary(modelId: model.id, task: task.rawValue, scored: 0, skipped: 0, freshness: freshness)
        let ranks = task.definition.needsSequences
        try write(ranks ? "pseudonym,rank,item,score\n" : "pseudonym,score\n")
        var pending: [Pseudonym] = []
        var inputs: [ServingInput] = []
        var current: [StoredEvent] = []
        var users = 0
        func flushRows() throws {
            guard !pending.isEmpty else { return }
            var text = ""
            if ranks {
                let lists = try model.topItems(of: inputs, k: k, excluding: pending.map { _ in [] })
                for (pseudonym, items) in zip(pending, lists) {
                    for item in items { text += "\(pseudonym.hex),\(item.rank),\(item.item),\(item.score)\n" }
                }
            } else {
                for row in try model.predictions(pseudonyms: pending, inputs: inputs, freshness: freshness) {
                    text += "\(row.pseudonym),\(row.score)\n"
                }
            }
            try write(text)
            summary.scored += pending.count
            pending.removeAll(keepingCapacity: true)
            inputs.removeAll(keepingCapacity: true)
        }
        func flushUser() throws {
            guard let first = current.first else { return }
            users += 1
            if let input = extractor.input(for: current) {
                pending.append(first.pseudonym)
                inputs.append(input)
                if pending.count >= 4096 { try flushRows() }
            } else {
                summary.skipped += 1
            }
            current.removeAll(keepingCapacity: true)
        }
        try await events.forEachEventChunk(chunkSize: 50_000) { chunk in
            for event in chunk {
                if let last = current.last, last.pseudonym != event.pseudonym { try flushUser() }
                current.append(event)
            }
            progress(users)
        }
        try flushUser()
        try flushRows()
        progress(users)
        // Counted like served predictions (one per user scored); `flushCounts` writes them per model and day.
        tally.count(summary.scored, modelID: model.id, task: task.rawValue, at: clock.now())
        try await audit.record(
            actor: principal, action: .modelScore,
            details: [
                "model_id": .string(model.id), "task": .string(task.rawValue), "scored": .int(Int64(summary.scored)),
                "at": .string(ModelFile.isoTime(millis: extractor.window.cutoff)), "stale": .bool(freshness.stale),
            ])
        return summary
    }

    /// The approved model for `task`, loaded once per model id.
    private func servingModel(task: PredictionTask) async throws -> ServingModel {
        let record = try await models.serving(task: task.rawValue)
        if let cached = cache.withLock({ $0[record.id] }) { return cached }
        let stored = try ModelFile.decode(try await models.artifact(id: record.id))
        guard stored.card.isPrivate, stored.card.task == task.rawValue else {
            throw VeilError(.integrity, field: "model_id", "model \(record.id) does not fit task \(task.rawValue) or is not private")
        }
        let network: ServingModel.Network
        switch stored.model {
        case .rows(let artifact): network = .rows(try artifact.network())
        case .sequence(let artifact): network = .sequence(try artifact.network(), artifact.schema)
        }
        let model = ServingModel(
            id: record.id, task: task, network: network, schema: stored.card.features,
            windowDays: stored.card.dataWindow.windowDays, horizonDays: stored.card.dataWindow.horizonDays,
            epsilon: stored.card.epsilon ?? record.epsilon)
        cache.withLock { $0[record.id] = model }
        return model
    }
}

/// One batch of subjects as `PredictionService` serves it: the model and the freshness of the time
/// resolved for all of them, the subjects that have an input, and a failure for each of the others.
private struct ServingBatch {
    struct Subject {
        let index: Int
        let pseudonym: Pseudonym
        let input: ServingInput
        /// The vocabulary indices of the items to leave out of a recommendation (empty unless asked).
        let seen: Set<Int>
    }

    let model: ServingModel
    let freshness: DataFreshness
    /// How many subjects the request named.
    let count: Int
    var served: [Subject] = []
    var failures: [SubjectFailure] = []

    /// One outcome per subject in request order: `answers[i]` for `served[i]`, the failures in place.
    func outcomes<Answer>(_ answers: [Answer]) -> [SubjectOutcome<Answer>] {
        var outcomes: [SubjectOutcome<Answer>?] = Array(repeating: nil, count: count)
        for (subject, answer) in zip(served, answers) { outcomes[subject.index] = .answered(answer) }
        for failure in failures { outcomes[failure.index] = .failed(failure) }
        return outcomes.map { $0! }
    }
}

/// A loaded, approved model.
struct ServingModel: Sendable {
    enum Network: Sendable {
        case rows(DenseModel)
        case sequence(SequenceNetwork, SequenceSchema)
    }

    let id: String
    let task: PredictionTask
    let network: Network
    let schema: FeatureSchema
    let windowDays: Int?
    /// The label horizon the model was trained for (nil in cards that predate serving it).
    let horizonDays: Int?
    let epsilon: Double?

    /// How old the latest stored event may be before answers are flagged stale: the observation
    /// window, or for a model that reads the whole history, its label horizon (the period a score is about).
    var freshnessDays: Int? { windowDays ?? horizonDays }

    func freshness(atMillis: Int64, latestEventMillis: Int64?) -> DataFreshness {
        DataFreshness(atMillis: atMillis, windowDays: freshnessDays, latestEventMillis: latestEventMillis)
    }

    func extractor(atMillis cutoff: Int64) -> ServingExtractor {
        let window = FeatureWindow(
            observationStart: windowDays.map { cutoff - Int64($0) * FeatureWindow.millisPerDay }, cutoff: cutoff,
            horizonEnd: cutoff)
        switch network {
        case .rows: return ServingExtractor(window: window, rows: FeatureExtractor(schema: schema, window: window), sequences: nil)
        case .sequence(_, let sequenceSchema):
            return ServingExtractor(window: window, rows: nil, sequences: SequenceExtractor(schema: sequenceSchema, window: window))
        }
    }

    /// Class probabilities per input, `width` values each (1 for a binary task).
    func probabilities(_ inputs: [ServingInput]) throws -> (values: [Double], width: Int) {
        switch network {
        case .rows(let model):
            let features = inputs.flatMap { input -> [Double] in
                if case .row(let features) = input { return features }
                return []
            }
            return (try model.predictProbabilities(features), model.architecture.outputSize)
        case .sequence(let model, let schema):
            let classes = model.architecture.classCount
            let sequences = inputs.compactMap { input -> SequenceExample? in
                if case .sequence(let example) = input { return example }
                return nil
            }
            let data = try SequenceDataset(examples: sequences, schema: schema, classCount: classes) {
                Array(repeating: -1, count: $0.length)
            }
            return (try model.probabilities(atLastEventOf: data), classes == 2 ? 1 : classes)
        }
    }

    func predictions(pseudonyms: [Pseudonym], inputs: [ServingInput], freshness: DataFreshness) throws -> [Prediction] {
        let (probabilities, classes) = try self.probabilities(inputs)
        let vocabulary = self.vocabulary
        return pseudonyms.enumerated().map { row, pseudonym in
            var prediction = Prediction(
                pseudonym: pseudonym.hex, task: task.rawValue, score: probabilities[row], category: nil, item: nil,
                modelId: id, modelEpsilon: epsilon, freshness: freshness)
            guard classes > 1 else { return prediction }
            let slice = Array(probabilities[(row * classes)..<((row + 1) * classes)])
            if let vocabulary {
                let top = TopK.indices(of: slice, k: 1, excluding: [vocabulary.otherIndex]).first ?? 0
                prediction.score = slice[top]
                prediction.item = vocabulary.item(at: top)
            } else {
                let top = TopK.indices(of: slice, k: 1).first ?? 0
                prediction.score = slice[top]
                prediction.category = top < schema.categories.count ? schema.categories[top] : nil
            }
            return prediction
        }
    }

    /// The item vocabulary of a `next_item` model; nil for other tasks.
    var vocabulary: ItemVocabulary? {
        guard task.definition.needsSequences, case .sequence(_, let schema) = network else { return nil }
        return schema.vocabulary
    }

    /// The top `k` items for each input, skipping "other" and `excluding[i]` (vocabulary indices).
    func topItems(of inputs: [ServingInput], k: Int, excluding: [Set<Int>]) throws -> [[Recommendation.Item]] {
        guard let vocabulary else {
            throw VeilError(.integrity, field: "model_id", "model \(id) does not recommend items")
        }
        let (probabilities, classes) = try self.probabilities(inputs)
        return inputs.indices.map { row in
            let slice = Array(probabilities[(row * classes)..<((row + 1) * classes)])
            let top = TopK.indices(of: slice, k: k, excluding: excluding[row].union([vocabulary.otherIndex]))
            return top.enumerated().map { rank, index in
                Recommendation.Item(rank: rank + 1, item: vocabulary.items[index], score: slice[index])
            }
        }
    }

    /// The vocabulary indices of the items `events` bought before `cutoff`.
    func boughtItems(_ events: [StoredEvent], before cutoff: Int64) -> Set<Int> {
        guard let vocabulary else { return [] }
        var bought = Set<Int>()
        for event in events where event.type == .purchase && event.timestampMillis < cutoff {
            if let item = event.itemID { bought.insert(vocabulary.index(of: item)) }
        }
        return bought
    }
}

/// A served model's input for one user: a feature row or an event sequence.
enum ServingInput: Sendable {
    case row([Double])
    case sequence(SequenceExample)
}

/// Reads one user's events into a served model's input, as at training, over the window before `at`.
struct ServingExtractor: Sendable {
    let window: FeatureWindow
    let rows: FeatureExtractor?
    let sequences: SequenceExtractor?

    /// Nil when the user has no event in the window.
    func input(for events: [StoredEvent]) -> ServingInput? {
        if let sequences { return sequences.example(for: events).map(ServingInput.sequence) }
        return rows?.example(for: events).map { .row($0.features) }
    }
}

/// One subject's recommendations, as both faces return them (in a `SubjectOutcome`): the pseudonym
/// (never the raw ID), the top items, the model, and the time recommended as of with its freshness.
public struct Recommendation: Sendable, Codable, Hashable {
    /// The most items one list may hold.
    public static let maxK = 100

    public struct Item: Sendable, Codable, Hashable {
        /// 1 for the best.
        public var rank: Int
        public var item: String
        /// The model's probability that this is the user's next item.
        public var score: Double
    }

    public var pseudonym: String
    public var items: [Item]
    public var modelId: String
    public var modelEpsilon: Double?
    /// The time recommended as of and whether the stored events reach it (`stale`).
    public var freshness: DataFreshness

    enum CodingKeys: String, CodingKey {
        case pseudonym, items, freshness
        case modelId = "model_id"
        case modelEpsilon = "model_epsilon"
    }

    init(pseudonym: String, model: ServingModel, items: [Item], freshness: DataFreshness) {
        self.pseudonym = pseudonym
        self.items = items
        modelId = model.id
        modelEpsilon = model.epsilon
        self.freshness = freshness
    }

    /// Throws `.invalidInput` naming `k` unless 1 ≤ `k` ≤ `maxK`.
    public static func validate(k: Int) throws {
        guard (1...maxK).contains(k) else { throw VeilError(.invalidInput, field: "k", "must be between 1 and \(maxK)") }
    }
}
