import VeilCore

/// The shape of a sequence model (`SequenceModel`): the embedding tables, the encoder over time, the
/// context the head reads beside it (wide and deep; `SequenceSchema.contextWidth`), whether the head
/// also reads each event's embedded row (`headReadsEvents`, the event path), the head's classes and
/// whether a user's own items add to their scores (`repeatPath`). Files written before context decode
/// with `contextWidth` 0, before the event path or the repeat path without them.
///
/// - `gru`: one GRU layer of `hiddenWidth` units (the RNN family of the behaviour-prediction literature).
/// - `cnn`: `convolutionDepth` causal convolutions of `hiddenWidth` channels and `convolutionWidth` taps,
///   dilations 1, 2, 4 (NextItNet's family): an output sees the last 15 events.
public struct SequenceArchitecture: Sendable, Hashable, Codable {
    public enum Encoder: String, Sendable, Hashable, Codable, CaseIterable {
        case gru, cnn
    }

    public static let convolutionWidth = 3
    public static let convolutionDepth = 3

    public let encoder: Encoder
    /// Rows of each field's embedding table (`SequenceSchema.tokenCount`).
    public let tokenCounts: [Int]
    public let embeddingWidth: Int
    /// GRU units or convolution channels.
    public let hiddenWidth: Int
    /// 2 for a binary task (one sigmoid output), else the softmax's classes.
    public let classCount: Int
    /// Context values per sequence the head reads beside the encoder's output (0: none).
    public let contextWidth: Int
    /// Whether the head reads each event's embedded row beside the encoder's output there (the event
    /// path: `embeddingWidth` more inputs to the head).
    public let headReadsEvents: Bool
    /// Whether the classes are the item field's tokens (item token t ≥ 1 is class t − 1, as `next_item`
    /// has them) and each class seen in the sequence so far adds w_seen + w_recent · λ^a to its logit
    /// (the repeat path, `SequenceModel`: two more parameters, after the head).
    public let repeatPath: Bool

    /// The repeat path's weights when it has one: w_seen and w_recent.
    public static let repeatWeights = 2

    /// The repeat path's parameters (0 without it).
    public var repeatParameterCount: Int { repeatPath ? Self.repeatWeights : 0 }

    /// The token field the repeat path reads (`SequenceModel.repeatField`): the item field when on.
    static func repeatField(_ repeatPath: Bool) -> Int? { repeatPath ? SequenceSchema.Field.item.rawValue : nil }

    /// Throws `VeilError.invalidInput` naming the field when a size is not positive (the context's not
    /// negative), there are fewer than 2 classes, or the repeat path's classes are not the item tokens
    /// after "no item" (`tokenCounts[item] == classCount + 1`, more than 2 classes).
    public init(
        encoder: Encoder, tokenCounts: [Int], embeddingWidth: Int, hiddenWidth: Int, classCount: Int, contextWidth: Int = 0,
        headReadsEvents: Bool = false, repeatPath: Bool = false
    ) throws {
        guard !tokenCounts.isEmpty, tokenCounts.allSatisfy({ $0 > 0 }) else {
            throw VeilError(.invalidInput, field: "tokenCounts", "every field needs at least one token")
        }
        guard embeddingWidth > 0 else { throw VeilError(.invalidInput, field: "embeddingWidth", "must be at least 1") }
        guard hiddenWidth > 0 else { throw VeilError(.invalidInput, field: "hiddenWidth", "must be at least 1") }
        guard classCount >= 2 else { throw VeilError(.invalidInput, field: "classCount", "must be at least 2") }
        guard contextWidth >= 0 else { throw VeilError(.invalidInput, field: "contextWidth", "must not be negative") }
        let item = SequenceSchema.Field.item.rawValue
        if repeatPath {
            guard classCount > 2, item < tokenCounts.count, tokenCounts[item] == classCount + 1 else {
                throw VeilError(
                    .invalidInput, field: "repeatPath", "needs the classes to be the item tokens after \"no item\" (a next-item softmax)")
            }
        }
        self.encoder = encoder
        self.tokenCounts = tokenCounts
        self.embeddingWidth = embeddingWidth
        self.hiddenWidth = hiddenWidth
        self.classCount = classCount
        self.contextWidth = contextWidth
        self.headReadsEvents = headReadsEvents
        self.repeatPath = repeatPath
    }

    private enum CodingKeys: String, CodingKey {
        case encoder, tokenCounts, embeddingWidth, hiddenWidth, classCount, contextWidth, headReadsEvents, repeatPath
    }

    /// Decodes as written; a file from before context has none (`contextWidth` 0), one from before the
    /// event path or the repeat path has neither (`headReadsEvents`, `repeatPath` false). Throws as
    /// `init` does for sizes out of range.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            encoder: container.decode(Encoder.self, forKey: .encoder),
            tokenCounts: container.decode([Int].self, forKey: .tokenCounts),
            embeddingWidth: container.decode(Int.self, forKey: .embeddingWidth),
            hiddenWidth: container.decode(Int.self, forKey: .hiddenWidth),
            classCount: container.decode(Int.self, forKey: .classCount),
            contextWidth: container.decodeIfPresent(Int.self, forKey: .contextWidth) ?? 0,
            headReadsEvents: container.decodeIfPresent(Bool.self, forKey: .headReadsEvents) ?? false,
            repeatPath: container.decodeIfPresent(Bool.self, forKey: .repeatPath) ?? false)
    }

    /// Writes `headReadsEvents` and `repeatPath` only when true, so a model without them is written byte
    /// for byte as before they existed.
    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.encoder, forKey: .encoder)
        try container.encode(tokenCounts, forKey: .tokenCounts)
        try container.encode(embeddingWidth, forKey: .embeddingWidth)
        try container.encode(hiddenWidth, forKey: .hiddenWidth)
        try container.encode(classCount, forKey: .classCount)
        try container.encode(contextWidth, forKey: .contextWidth)
        if headReadsEvents { try container.encode(true, forKey: .headReadsEvents) }
        if repeatPath { try container.encode(true, forKey: .repeatPath) }
    }

    /// Every parameter: embedding tables, encoder, head (over the encoder's output, the event's embedded
    /// row when the head reads events, and the context), then the repeat path's.
    public var parameterCount: Int {
        let embedding = tokenCounts.reduce(0, +) * embeddingWidth
        let encoder: Int
        switch self.encoder {
        case .gru:
            encoder = (embeddingWidth + hiddenWidth + 2) * 3 * hiddenWidth
        case .cnn:
            let width = Self.convolutionWidth
            encoder = (width * embeddingWidth + 1) * hiddenWidth
                + (Self.convolutionDepth - 1) * (width * hiddenWidth + 1) * hiddenWidth
        }
        let outputs = classCount == 2 ? 1 : classCount
        let eventWidth = headReadsEvents ? embeddingWidth : 0
        return embedding + encoder + (hiddenWidth + eventWidth + contextWidth + 1) * outputs + repeatParameterCount
    }
}

/// A sequence model with its parameters: what training returns, an artifact stores and serving runs.
/// Parameters, one flat vector as `SequenceModel` lays them out (embedding tables, encoder, head).
public struct SequenceNetwork: Sendable, Hashable {
    public let architecture: SequenceArchitecture
    public let parameters: [Double]

    /// Fresh parameters, uniform in ±0.1, drawn from `generator` (no data: costs no privacy).
    public init(architecture: SequenceArchitecture, using generator: inout some RandomNumberGenerator) {
        self.architecture = architecture
        switch architecture.encoder {
        case .gru: parameters = Self.gru(architecture, Double.self, using: &generator).parameters
        case .cnn: parameters = Self.cnn(architecture, Double.self, using: &generator).parameters
        }
    }

    /// Wraps existing parameters. Throws `VeilError.invalidInput` when their count does not match the
    /// architecture or one is not finite.
    public init(architecture: SequenceArchitecture, parameters: [Double]) throws {
        guard parameters.count == architecture.parameterCount else {
            throw VeilError(
                .invalidInput, field: "parameters",
                "expected \(architecture.parameterCount) parameters for this architecture, got \(parameters.count)")
        }
        guard parameters.allSatisfy(\.isFinite) else {
            throw VeilError(.invalidInput, field: "parameters", "every parameter must be a finite number")
        }
        self.architecture = architecture
        self.parameters = parameters
    }

    /// The head's probabilities at the last event of every sequence (`SequenceModel.lastEventProbabilities`):
    /// one per sequence for two classes, `classCount` per sequence otherwise. Computed in `Double`
    /// (serving is a forward pass, whose cost does not matter beside training's).
    public func probabilities(atLastEventOf data: SequenceDataset) throws -> [Double] {
        var generator = SystemRandomNumberGenerator()
        switch architecture.encoder {
        case .gru:
            var model = Self.gru(architecture, Double.self, using: &generator)
            model.parameters = parameters
            return try model.lastEventProbabilities(data)
        case .cnn:
            var model = Self.cnn(architecture, Double.self, using: &generator)
            model.parameters = parameters
            return try model.lastEventProbabilities(data)
        }
    }

    /// Trains a fresh network (initialised from `initial`) on `data` with `trainer`, computing the passes
    /// in `TrainingPrecision` (`Float`) — about twice `Double`'s speed; the master parameters, the
    /// clipping weights, the noise and the update stay `Double` (see `SequenceModel`), and the parameters
    /// are drawn in `Double` exactly as `init(architecture:using:)` draws them. With `headPrior` the head
    /// starts as the prior says instead (`HeadPrior.apply`); the rest is drawn as without it.
    public static func train(
        _ architecture: SequenceArchitecture, on data: SequenceDataset, trainer: Trainer, headPrior: HeadPrior? = nil,
        initial: inout some RandomNumberGenerator, sampling: inout some RandomNumberGenerator,
        noise: inout some GaussianSource, onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> (network: SequenceNetwork, report: TrainingReport) {
        let parameters: [Double]
        let report: TrainingReport
        switch architecture.encoder {
        case .gru:
            var model = gru(architecture, TrainingPrecision.self, using: &initial)
            if let headPrior { model.parameters = try headPrior.apply(to: model.parameters, architecture: architecture) }
            let trained = try trainer.train(model, on: data, sampling: &sampling, noise: &noise, onEpoch: onEpoch)
            (parameters, report) = (trained.model.parameters, trained.report)
        case .cnn:
            var model = cnn(architecture, TrainingPrecision.self, using: &initial)
            if let headPrior { model.parameters = try headPrior.apply(to: model.parameters, architecture: architecture) }
            let trained = try trainer.train(model, on: data, sampling: &sampling, noise: &noise, onEpoch: onEpoch)
            (parameters, report) = (trained.model.parameters, trained.report)
        }
        return (try SequenceNetwork(architecture: architecture, parameters: parameters), report)
    }

    static func gru<Scalar: ComputeScalar>(
        _ architecture: SequenceArchitecture, _: Scalar.Type, using generator: inout some RandomNumberGenerator
    ) -> SequenceModel<GRULayer<Scalar>> {
        SequenceModel(
            tokenCounts: architecture.tokenCounts, embeddingWidth: architecture.embeddingWidth,
            classCount: architecture.classCount, contextWidth: architecture.contextWidth,
            headReadsEvents: architecture.headReadsEvents, repeatField: SequenceArchitecture.repeatField(architecture.repeatPath),
            makeEncoder: { GRULayer(inputs: $0, hidden: architecture.hiddenWidth, parameterOffset: $1) }, using: &generator)
    }

    static func cnn<Scalar: ComputeScalar>(
        _ architecture: SequenceArchitecture, _: Scalar.Type, using generator: inout some RandomNumberGenerator
    ) -> SequenceModel<ConvolutionStack<Scalar>> {
        SequenceModel(
            tokenCounts: architecture.tokenCounts, embeddingWidth: architecture.embeddingWidth,
            classCount: architecture.classCount, contextWidth: architecture.contextWidth,
            headReadsEvents: architecture.headReadsEvents, repeatField: SequenceArchitecture.repeatField(architecture.repeatPath),
            makeEncoder: {
                ConvolutionStack(
                    inputs: $0, channels: architecture.hiddenWidth, width: SequenceArchitecture.convolutionWidth,
                    depth: SequenceArchitecture.convolutionDepth, parameterOffset: $1)
            }, using: &generator)
    }
}

/// A trained sequence model as a self-describing JSON document: the architecture, the input schema it
/// reads events with (L, the public buckets, the categories, the item vocabulary and any context) and every
/// parameter, plus how it was trained. `kind` is `gru_sequence` or `cnn_sequence`, which no dense
/// artifact uses, so a model file says which of the two it holds.
///
/// Format versions: 1, sequences of events only; 2, sequences that end with the cutoff marker
/// (`SequenceSchema.timeToCutoffBoundsSeconds`); 3, a head that reads each event's embedded row (the
/// event path, `SequenceArchitecture.headReadsEvents`), with or without the marker; 4, the repeat path
/// (`SequenceArchitecture.repeatPath`), with or without the others. A model is written in
/// the oldest version that holds it, so the builds before a version keep reading the models that do
/// not need it; they refuse a newer file by its version, rather than read it as something else.
public struct SequenceArtifact: Sendable, Hashable, Codable {
    /// The newest format this build writes and reads.
    public static let currentFormatVersion = 4

    /// The format a model of `architecture` reading sequences under `schema` is written in.
    static func formatVersion(of schema: SequenceSchema, architecture: SequenceArchitecture) -> Int {
        architecture.repeatPath ? 4 : architecture.headReadsEvents ? 3 : schema.timeToCutoffBoundsSeconds == nil ? 1 : 2
    }
    /// The artifact's `parameterLayout`; the text of models without the event path and the repeat path
    /// is the one written before them.
    static func layoutDescription(_ architecture: SequenceArchitecture) -> String {
        let headInputs = architecture.headReadsEvents ? "hidden + embedding width + context width" : "hidden + context width"
        let repeats = architecture.repeatPath ? ", then the repeat path's w_seen and w_recent" : ""
        return "embedding tables in field order (rows x width, row-major), then the encoder's parameters, then the head ((\(headInputs)) x outputs input-major, then biases)\(repeats)"
    }

    public let formatVersion: Int
    public let kind: String
    public let architecture: SequenceArchitecture
    public let schema: SequenceSchema
    public let parameterLayout: String
    public let parameters: [Double]
    public let training: TrainingReport?

    /// The artifact kinds of sequence models.
    public static func kind(of encoder: SequenceArchitecture.Encoder) -> String { "\(encoder.rawValue)_sequence" }

    public init(network: SequenceNetwork, schema: SequenceSchema, training: TrainingReport? = nil) {
        formatVersion = Self.formatVersion(of: schema, architecture: network.architecture)
        kind = Self.kind(of: network.architecture.encoder)
        architecture = network.architecture
        self.schema = schema
        parameterLayout = Self.layoutDescription(network.architecture)
        parameters = network.parameters
        self.training = training
    }

    /// The network. Throws `VeilError.invalidInput` naming the field when the version is unknown, the
    /// kind does not match the encoder, the schema's token counts or context width are not the
    /// architecture's, or the parameters do not fit.
    public func network() throws -> SequenceNetwork {
        guard (1...Self.currentFormatVersion).contains(formatVersion) else {
            throw VeilError(
                .invalidInput, field: "formatVersion",
                "this build reads sequence model format versions 1 to \(Self.currentFormatVersion), not \(formatVersion)")
        }
        guard formatVersion == Self.formatVersion(of: schema, architecture: architecture) else {
            throw VeilError(
                .invalidInput, field: "formatVersion",
                "format version 4, and only it, has the repeat path (architecture.repeatPath); 3 a head that reads events (architecture.headReadsEvents) without it; 2 the time-to-cutoff marker (schema.time_to_cutoff_bounds_seconds) without either; 1 none")
        }
        guard kind == Self.kind(of: architecture.encoder) else {
            throw VeilError(.invalidInput, field: "kind", "does not match the architecture's encoder")
        }
        guard schema.tokenCounts == architecture.tokenCounts else {
            throw VeilError(.invalidInput, field: "schema", "its token counts are not the architecture's embedding tables")
        }
        guard schema.contextWidth == architecture.contextWidth else {
            throw VeilError(.invalidInput, field: "schema", "its context width is not the architecture's")
        }
        return try SequenceNetwork(architecture: architecture, parameters: parameters)
    }
}
