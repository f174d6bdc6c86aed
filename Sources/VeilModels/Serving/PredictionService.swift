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
    /// P(label = 1) for `purchase` and `churn`; for `next_category`, the probability of `category`.
    public var score: Double
    /// `next_category` only: the most likely category.
    public var category: String?
    public var modelId: String
    public var modelEpsilon: Double?
    /// The time scored as of and whether the stored events reach it (`stale`).
    public var freshness: DataFreshness

    enum CodingKeys: String, CodingKey {
        case pseudonym, task, score, category, freshness
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
        guard !subjects.isEmpty else { throw VeilError(.invalidInput, field: "subjects", "give at least one user_id or pseudonym") }
        guard subjects.count <= Self.maxBatch else {
            throw VeilError(.tooLarge, field: "subjects", "at most \(Self.maxBatch) predictions per request, got \(subjects.count)")
        }
        let atMillis = try ServingTime.resolve(time, now: clock.now())
        let model = try await servingModel(task: task)
        let extractor = model.extractor(atMillis: atMillis)
        let freshness = model.freshness(atMillis: atMillis, latestEventMillis: try await events.latestEventMillis())
        var outcomes: [SubjectOutcome<Prediction>?] = Array(repeating: nil, count: subjects.count)
        var features: [Double] = []
        var scored: [(index: Int, pseudonym: Pseudonym)] = []
        for (index, subject) in subjects.enumerated() {
            let pseudonym: Pseudonym
            switch subject {
            case .userID(let id): pseudonym = pseudonymizer.pseudonym(for: id)
            case .pseudonym(let value): pseudonym = value
            }
            let history = try await events.events(for: pseudonym)
            guard let example = extractor.example(for: history) else {
                let field = subjects.count == 1 ? "pseudonym" : "subjects[\(index)]"
                outcomes[index] = .failed(
                    SubjectFailure(
                        index: index, pseudonym: pseudonym,
                        VeilError(
                            .notFound, field: field,
                            "pseudonym \(pseudonym.hex) has no event in the model's observation window before \(ModelFile.isoTime(millis: extractor.window.cutoff))"
                                + (freshness.warning.map { " (\($0))" } ?? ""))))
                continue
            }
            features += example.features
            scored.append((index, pseudonym))
        }
        if !scored.isEmpty {
            let predictions = try model.predictions(pseudonyms: scored.map(\.pseudonym), features: features, freshness: freshness)
            tally.count(predictions.count, modelID: model.id, task: task.rawValue, at: clock.now())
            for (entry, prediction) in zip(scored, predictions) { outcomes[entry.index] = .answered(prediction) }
        }
        return outcomes.map { $0! }
    }

    /// Writes the prediction counts not yet in the audit log (`model.predictions`, one record per model
    /// and day) as `actor`; see `PredictionTally`.
    @discardableResult
    public func flushCounts(actor: String) async throws -> Int {
        try await tally.flush(to: audit, actor: actor)
    }

    /// Scores every user with an event in the model's window and writes `pseudonym,score` CSV (header
    /// first) through `write`, in pseudonym order. `progress` gets the number of users read. Audited as
    /// `model.score` by `principal`.
    public func score(
        task: PredictionTask, at time: Date? = nil, principal: String, write: (String) throws -> Void,
        progress: (Int) -> Void = { _ in }
    ) async throws -> ScoreSummary {
        let model = try await servingModel(task: task)
        let atMillis = try ServingTime.resolve(time, now: clock.now())
        let extractor = model.extractor(atMillis: atMillis)
        let freshness = model.freshness(atMillis: atMillis, latestEventMillis: try await events.latestEventMillis())
        var summary = ScoreSummary(modelId: model.id, task: task.rawValue, scored: 0, skipped: 0, freshness: freshness)
        try write("pseudonym,score\n")
        var pending: [Pseudonym] = []
        var features: [Double] = []
        var current: [StoredEvent] = []
        var users = 0
        func flushRows() throws {
            guard !pending.isEmpty else { return }
            let rows = try model.predictions(pseudonyms: pending, features: features, freshness: freshness)
            var text = ""
            for row in rows { text += "\(row.pseudonym),\(row.score)\n" }
            try write(text)
            summary.scored += rows.count
            pending.removeAll(keepingCapacity: true)
            features.removeAll(keepingCapacity: true)
        }
        func flushUser() throws {
            guard let first = current.first else { return }
            users += 1
            if let example = extractor.example(for: current) {
                pending.append(first.pseudonym)
                features += example.features
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
        let model = ServingModel(
            id: record.id, task: task, network: try stored.model.network(), schema: stored.card.features,
            windowDays: stored.card.dataWindow.windowDays, horizonDays: stored.card.dataWindow.horizonDays,
            epsilon: stored.card.epsilon ?? record.epsilon)
        cache.withLock { $0[record.id] = model }
        return model
    }
}

/// A loaded, approved model.
struct ServingModel: Sendable {
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

    func extractor(atMillis cutoff: Int64) -> FeatureExtractor {
        let window = FeatureWindow(
            observationStart: windowDays.map { cutoff - Int64($0) * FeatureWindow.millisPerDay }, cutoff: cutoff,
            horizonEnd: cutoff)
        return FeatureExtractor(schema: schema, window: window)
    }

    func predictions(pseudonyms: [Pseudonym], features: [Double], freshness: DataFreshness) throws -> [Prediction] {
        let probabilities = try network.predictProbabilities(features)
        let classes = network.architecture.outputSize
        return pseudonyms.enumerated().map { row, pseudonym in
            if classes == 1 {
                return Prediction(
                    pseudonym: pseudonym.hex, task: task.rawValue, score: probabilities[row], category: nil, modelId: id,
                    modelEpsilon: epsilon, freshness: freshness)
            }
            let slice = probabilities[(row * classes)..<((row + 1) * classes)]
            let top = slice.indices.max { slice[$0] < slice[$1] || (slice[$0] == slice[$1] && $0 > $1) } ?? slice.startIndex
            let category = top - row * classes
            return Prediction(
                pseudonym: pseudonym.hex, task: task.rawValue, score: slice[top],
                category: category < schema.categories.count ? schema.categories[category] : nil, modelId: id,
                modelEpsilon: epsilon, freshness: freshness)
        }
    }
}
