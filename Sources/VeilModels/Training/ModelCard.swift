import Foundation
import VeilCore
import VeilLearning
import VeilPrivacy

/// What a reviewer reads before approving a model: what it predicts, from which features and data
/// window, how it was trained, what it cost in privacy and how well it does on held-out users.
///
/// The card is stored with the model (`<data-dir>/models/<model_id>.json`, `{"card": …, "model": …}`)
/// and the model id is the hash of that file, so the stored card cannot contain its own id: `modelId`
/// and `created` (the registry's time) are filled in when a card is returned or shown. Everything in
/// the stored card is a function of the data, the request and (when given) the seed, so training twice
/// with the same seed gives the same file and the same id.
///
/// Privacy: for a private run ε covers the model parameters and `private_metrics` — DP holdout metrics
/// released inside the run's budget (`privacy_split` says how it was shared). `metrics`, `baselines`
/// and the train/holdout counts are exact, computed on the protected users and *not* covered by ε: not
/// for release. They are kept (in the card and the model file) only where the policy's
/// `training.exact_holdout_metrics` allows; elsewhere the card holds `quality_gate` instead — whether
/// the model beats its baselines on them, without a number (`withoutExactMetrics()`).
public struct ModelCard: Sendable, Encodable, Hashable {
    /// How a private run's budget was shared between its DP-SGD steps and its private evaluation,
    /// both charged as one spend (`PrivacyMechanism.composition`).
    public struct PrivacySplit: Sendable, Encodable, Hashable {
        /// The evaluation's share of the run's zCDP budget ρ(ε, δ), which chose its σ (`BudgetShare`).
        public var evaluationShare: Double
        /// σ of the discrete Gaussian noise on each holdout-histogram count (sensitivity 1).
        public var evaluationNoiseSigma: Double
        /// ε at the run's δ of each part alone; `epsilon` is their composition, at most the target.
        public var trainingEpsilon: Double
        public var evaluationEpsilon: Double
        /// ε alone of a sequence model's DP item-vocabulary selection (nil with a catalogue, or for a
        /// feature-row model).
        public var vocabularyEpsilon: Double?
        /// What the ledger was charged, one spend naming every part (the training's subsampled
        /// Gaussian, the evaluation's discrete Gaussian, then any item selection's thresholded Gaussian).
        public var charged: PrivacyMechanism

        /// The split of `mechanism`, a run's charge (its training, then its evaluation, then any item
        /// selection, in the order `TrainingPipeline.privateRunCost` composes them), with each part's ε
        /// alone at `delta` under `method`, for the card and the audit record.
        public init(
            _ mechanism: PrivacyMechanism, evaluationShare: Double, evaluationSigma: Double, delta: Double,
            method: AccountingMethod
        ) throws(VeilError) {
            guard case let .composition(parts) = mechanism, parts.count == 2 || parts.count == 3 else {
                throw VeilError(
                    .integrity, field: "mechanism", "a private run is charged as its training, its evaluation and any item selection")
            }
            let epsilons = parts.map { PrivacyAccountant.epsilon(composing: [$0], delta: delta, method: method) }
            self.evaluationShare = evaluationShare
            self.evaluationNoiseSigma = evaluationSigma
            self.trainingEpsilon = epsilons[0]
            self.evaluationEpsilon = epsilons[1]
            self.vocabularyEpsilon = parts.count == 3 ? epsilons[2] : nil
            self.charged = mechanism
        }
    }

    /// The shape of the network.
    public struct Model: Sendable, Encodable, Hashable {
        /// `logistic_regression`, `mlp`, `softmax_regression`, `mlp_softmax`, `gru_sequence` or `cnn_sequence`.
        public var kind: String
        /// The hidden widths of an MLP; the GRU units or convolution channels of a sequence model.
        public var hiddenSizes: [Int]
        public var parameterCount: Int
        public var optimizer: String
        public var learningRate: Double
    }

    /// A sequence model's input.
    public struct SequenceInput: Sendable, Encodable, Hashable {
        /// L, the most recent events read per user.
        public var length: Int
        public var embeddingWidth: Int
        public var vocabulary: VocabularyProvenance
        /// What the head reads beside the events (wide and deep), in input order: the `features` names,
        /// then `time_to_cutoff_le_<bound>s` per gap bucket and `time_to_cutoff_gt_<last bound>s`; empty
        /// when the task reads none (`next_item`).
        public var context: [String]
        /// The buckets (seconds) of the time from the last event to the cutoff that the cutoff marker
        /// ending each sequence carries (`SequenceSchema.timeToCutoffBoundsSeconds`); nil: no marker
        /// (`next_item`, and models trained before it).
        public var timeToCutoffBoundsSeconds: [Double]?
        /// true when the head also reads each event's embedded row beside the encoder's state (the event
        /// path, `SequenceArchitecture.headReadsEvents`, asked for with `head_reads_events`); nil
        /// otherwise and for models trained before it.
        public var headReadsEvents: Bool?
        /// What the head started as instead of its random draw (`HeadPrior.name`:
        /// `session_favourite_category` for `next_category`, `favourite_category` in cards before 2026-11-30; built from the context's column names, no data); nil: drawn at random.
        public var headPrior: String?
        /// true when a user's own items (those in the sequence) add to their scores (the repeat path,
        /// `SequenceArchitecture.repeatPath`; `next_item`'s default, `repeat_path` false turns it off); nil
        /// otherwise and for models trained before it.
        public var repeatPath: Bool?
        /// How the ranking metrics of `next_item` were measured (`RankingSplit`); nil for the other tasks.
        public var evaluation: RankingSplit?
    }

    /// Where the features and labels come from (ISO 8601 UTC).
    public struct DataWindow: Sendable, Encodable, Hashable {
        /// nil: every event before the cutoff.
        public var observationStart: String?
        public var cutoff: String
        public var horizonEnd: String
        public var windowDays: Int?
        public var horizonDays: Int
    }

    public var modelId: String?
    public var created: String?
    public var task: String
    public var model: Model
    /// Feature names, public bounds and scaling, and the categories, in input order (a sequence model's
    /// baselines read these).
    public var features: FeatureSchema
    /// What a sequence model reads: L, the embedding width and where the item vocabulary came from (the
    /// vocabulary itself is in the artifact); nil for a feature-row model.
    public var sequence: SequenceInput?
    public var dataWindow: DataWindow
    public var isPrivate: Bool
    /// ε of the released parameters at `delta` for (q, σ, steps), from the accountant; nil if non-private.
    public var epsilon: Double?
    /// The ε the trainer asked for; `epsilon` is at most this.
    public var targetEpsilon: Double?
    public var delta: Double?
    /// σ, noise standard deviation / clipping norm.
    public var noiseMultiplier: Double?
    /// q = B / n (Poisson sampling rate).
    public var samplingRate: Double
    /// C.
    public var clippingNorm: Double?
    public var steps: Int
    public var epochs: Int
    /// B, expected users per step (fixed batch size when non-private).
    public var expectedBatchSize: Int
    /// n, the number of users the sampling rate is computed from (registered identities, treated as
    /// public as in Opacus).
    public var population: Int
    /// How `epsilon` was computed (`accountantDescription(_:)`); nil for a non-private run.
    public var accountant: String?
    /// True when the run was seeded: the noise was predictable and the guarantee void (tests only).
    public var seeded: Bool
    /// How the budget was split between training and evaluation (private runs).
    public var privacySplit: PrivacySplit?
    /// Differentially private holdout metrics with 95% intervals, paid inside `epsilon` (private runs):
    /// the metrics to publish.
    public var privateMetrics: PrivateEvaluation?
    /// Exact holdout metrics: not covered by ε, not for release; nil where the policy does not keep them.
    public var metrics: ModelEvaluation?
    /// Simple scores beside the model (`base_rate` and a recency-only score), exact as `metrics`.
    public var baselines: [String: ModelEvaluation]?
    /// The exact train and holdout user counts, kept as `metrics`.
    public var trainCount: Int?
    public var holdoutCount: Int?
    /// Where the exact statistics are not kept: the `QualityGate` read off them before they were
    /// dropped, without its numbers (`QualityGate.withoutExactValues`). nil when they are kept (the gate
    /// is then read off them whenever the card is shown).
    public var qualityGate: [String: JSONValue]?
    public var policyHash: String
    public var notes: [String]

    /// The card's words for the accountant that computed ε (cards name no parameters beyond these).
    public static func accountantDescription(_ kind: AccountantKind) -> String {
        switch kind {
        case .rdp: "RDP (dp_accounting orders) with the Balle et al. 2020 conversion"
        case .pld: "PLD (dp_accounting pessimistic estimate, value discretisation interval 1e-4)"
        }
    }
}

/// The parts of a stored card that serving needs, read back from the model file.
struct ServingCard: Decodable, Sendable {
    var task: String
    var features: FeatureSchema
    var dataWindow: DataWindowLength
    var isPrivate: Bool
    var epsilon: Double?

    struct DataWindowLength: Decodable, Sendable {
        var windowDays: Int?
        var horizonDays: Int?
    }
}

/// The model a file holds: a feature-row network (`ModelArtifact`, as every file before sequence
/// models) or a sequence network (`SequenceArtifact`), told apart by the artifact's `kind`.
enum StoredModel: Decodable, Sendable {
    case rows(ModelArtifact)
    case sequence(SequenceArtifact)

    private enum Keys: String, CodingKey { case kind }

    init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .kind)
        if SequenceArchitecture.Encoder.allCases.contains(where: { SequenceArtifact.kind(of: $0) == kind }) {
            self = .sequence(try SequenceArtifact(from: decoder))
        } else {
            self = .rows(try ModelArtifact(from: decoder))
        }
    }
}

/// A model file: the card and the artifact.
enum ModelFile {
    struct Stored: Decodable {
        var card: ServingCard
        var model: StoredModel
    }

    private struct Writing<Artifact: Encodable>: Encodable {
        var card: ModelCard
        var model: Artifact
    }

    /// Sorted-key JSON with snake_case keys; deterministic for equal inputs.
    static func encode(card: ModelCard, artifact: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(Writing(card: card, model: artifact))
    }

    static func decode(_ data: Data) throws -> Stored {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(Stored.self, from: data)
        } catch let error as VeilError {
            throw error  // a rule of a part of the file (e.g. `FeatureSchema`'s), naming its field
        } catch {
            throw VeilError(.invalidInput, field: "model", "not a readable Veil model file")
        }
    }

    /// The stored card as generic JSON, for showing.
    static func cardJSON(_ data: Data) throws -> [String: JSONValue] {
        guard case .object(let file)? = try? JSONDecoder().decode(JSONValue.self, from: data),
            case .object(let card)? = file["card"]
        else { throw VeilError(.invalidInput, field: "model", "not a readable Veil model file") }
        return card
    }

    static func isoTime(millis: Int64) -> String {
        Date(timeIntervalSince1970: Double(millis) / 1000).formatted(.iso8601)
    }
}

extension ModelCard {
    /// The card keys holding exact holdout statistics, computed on the protected users and not covered by ε.
    public static let exactKeys = ["metrics", "baselines", "train_count", "holdout_count"]

    /// What a reviewer reads beside the exact statistics.
    public static let exactNotice =
        "NOT FOR RELEASE: metrics, baselines, train_count and holdout_count are exact holdout statistics, not covered by epsilon; publish private_metrics instead"

    /// `card` (JSON, as stored) as `role` may see it over HTTP: the exact holdout statistics only to a
    /// reviewer (or admin) and only when the policy's `training.exact_holdout_metrics` allows it, then
    /// labelled with `exact_metrics_notice`; every other role, and every role when the policy does not
    /// allow it, sees the card without them (private metrics, ε and the split stay).
    /// The card's `quality_gate` (`ModelRegistry.describe`), read off the exact statistics, loses its
    /// numbers with them (`QualityGate.withoutExactValues`).
    public static func shown(_ card: [String: JSONValue], to role: Role?, policy: Policy) -> [String: JSONValue] {
        var card = card
        if showsExactMetrics(to: role, policy: policy) {
            card["exact_metrics_notice"] = .string(exactNotice)
        } else {
            for key in exactKeys { card.removeValue(forKey: key) }
            if case .object(let gate)? = card["quality_gate"] {
                card["quality_gate"] = .object(QualityGate.withoutExactValues(gate))
            }
        }
        return card
    }

    /// The note a card carries while it holds the exact holdout statistics.
    static let exactNote =
        "NOT FOR RELEASE: metrics, baselines and the train/holdout counts are exact, computed on the protected users and not covered by epsilon"

    /// This card without its exact holdout statistics (`exactKeys`), as a model file keeps it where the
    /// policy's `training.exact_holdout_metrics` is off: `quality_gate` says whether the model beats its
    /// baselines on them (no number), and the notes say what was dropped.
    public func withoutExactMetrics() throws -> ModelCard {
        guard case .object(let json) = try jsonValue() else {
            throw VeilError(.integrity, field: "card", "a model card encodes as a JSON object")
        }
        var card = self
        card.qualityGate = QualityGate.withoutExactValues(QualityGate.judge(card: json).json)
        card.metrics = nil
        card.baselines = nil
        card.trainCount = nil
        card.holdoutCount = nil
        card.notes = notes.filter { $0 != Self.exactNote } + [
            "exact holdout metrics, baselines and counts are not kept (policy training.exact_holdout_metrics: false); quality_gate says only whether the model beats its baselines on them"
        ]
        return card
    }

    /// Whether `role` may see the exact holdout statistics over HTTP under `policy` (see `shown`).
    public static func showsExactMetrics(to role: Role?, policy: Policy) -> Bool {
        policy.training.exactHoldoutMetrics && (role == .reviewer || role == .admin)
    }

    /// The card as JSON with snake_case keys (`model_id`, `noise_multiplier`, `roc_auc`, …), as it is
    /// stored and as both faces print it. Encode this rather than the card itself: the card's own
    /// `Encodable` keys are camelCase and only become snake_case under `.convertToSnakeCase`.
    public func jsonValue() throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try JSONDecoder().decode(JSONValue.self, from: encoder.encode(self))
    }
}
