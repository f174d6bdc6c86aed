import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

/// `SequenceModel` (embedding → GRU or convolution stack → dense head at every targeted event) under the
/// generic trainers, in `Double`, seeded: gradients against central differences, the per-example norms
/// the model reports against batches of one, the clipped sum against the sum of clipped per-example
/// gradients, and DP-SGD over it (deterministic, independent of the worker count, every example's
/// clipped contribution within C).
@Suite struct SequenceModelTests {
    static let tokenCounts = [6, 3]

    /// 40 sequences of 0–6 events over small vocabularies (so tokens repeat), targets at some events
    /// (-1 elsewhere), `contextWidth` context values per sequence uniform in [0, 1]; sequence 1 is
    /// sequence 0 again.
    static func data(classes: Int, contextWidth: Int = 0, seed: UInt64 = 61) throws -> SequenceDataset {
        var generator = ChaChaNoiseGenerator(seed: seed)
        var tokens: [Int32] = []
        var targets: [Int32] = []
        var starts = [0]
        var context: [Double] = []
        for sequence in 0..<40 {
            if sequence == 1 {
                tokens += tokens
                targets += targets
                context += context
            } else {
                context += (0..<contextWidth).map { _ in Double.random(in: 0...1, using: &generator) }
                for _ in 0..<Int.random(in: 0...6, using: &generator) {
                    tokens += tokenCounts.map { Int32(Int.random(in: 0..<$0, using: &generator)) }
                    targets.append(Int32(Int.random(in: -1..<classes, using: &generator)))
                }
            }
            starts.append(targets.count)
        }
        return try SequenceDataset(
            tokens: tokens, tokenCounts: tokenCounts, starts: starts, targets: targets, classCount: classes, context: context,
            contextWidth: contextWidth)
    }

    static func gru(classes: Int, contextWidth: Int = 0, headReadsEvents: Bool = false, repeatField: Int? = nil, seed: UInt64 = 62) -> SequenceModel<GRULayer<Double>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, contextWidth: contextWidth,
            headReadsEvents: headReadsEvents, repeatField: repeatField, scale: 0.5,
            makeEncoder: { GRULayer(inputs: $0, hidden: 5, parameterOffset: $1) }, using: &generator)
    }

    static func cnn(classes: Int, contextWidth: Int = 0, headReadsEvents: Bool = false, repeatField: Int? = nil, seed: UInt64 = 63) -> SequenceModel<ConvolutionStack<Double>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, contextWidth: contextWidth,
            headReadsEvents: headReadsEvents, repeatField: repeatField, scale: 0.5,
            makeEncoder: { ConvolutionStack(inputs: $0, channels: 5, width: 2, depth: 2, parameterOffset: $1) },
            using: &generator)
    }

    /// The same models computing in `Float` (the same parameters: the initialisation draws in `Double`).
    static func gruFloat(classes: Int, contextWidth: Int = 0, headReadsEvents: Bool = false, repeatField: Int? = nil, seed: UInt64 = 62) -> SequenceModel<GRULayer<Float>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, contextWidth: contextWidth,
            headReadsEvents: headReadsEvents, repeatField: repeatField, scale: 0.5,
            makeEncoder: { GRULayer(inputs: $0, hidden: 5, parameterOffset: $1) }, using: &generator)
    }

    static func cnnFloat(classes: Int, contextWidth: Int = 0, headReadsEvents: Bool = false, repeatField: Int? = nil, seed: UInt64 = 63) -> SequenceModel<ConvolutionStack<Float>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, contextWidth: contextWidth,
            headReadsEvents: headReadsEvents, repeatField: repeatField, scale: 0.5,
            makeEncoder: { ConvolutionStack(inputs: $0, channels: 5, width: 2, depth: 2, parameterOffset: $1) },
            using: &generator)
    }

    @Test func gruModelGradientsNormsAndClippedSum() throws {
        for classes in [2, 4] { try checkGradients(Self.gru(classes: classes), data: Self.data(classes: classes)) }
    }

    @Test func cnnModelGradientsNormsAndClippedSum() throws {
        for classes in [2, 4] { try checkGradients(Self.cnn(classes: classes), data: Self.data(classes: classes)) }
    }

    /// Wide and deep: the head also reads 3 context values per sequence; the gradients (the context's
    /// head weights included) against central differences, the norms against the brute force, the
    /// clipped sum, in `Double` and in `Float`.
    @Test func wideModelsGradientsNormsAndClippedSum() throws {
        for classes in [2, 4] {
            let data = try Self.data(classes: classes, contextWidth: 3)
            try checkGradients(Self.gru(classes: classes, contextWidth: 3), data: data)
            try checkGradients(Self.cnn(classes: classes, contextWidth: 3), data: data)
            try checkFloat(
                Self.gruFloat(classes: classes, contextWidth: 3), against: Self.gru(classes: classes, contextWidth: 3), data: data)
            try checkFloat(
                Self.cnnFloat(classes: classes, contextWidth: 3), against: Self.cnn(classes: classes, contextWidth: 3), data: data)
        }
        // The context's head weights take part: the gradient there is not zero, and changing a sequence's
        // context changes its loss.
        let model = Self.gru(classes: 2, contextWidth: 3)
        let data = try Self.data(classes: 2, contextWidth: 3)
        let headWeights = model.head.weightOffset..<(model.head.weightOffset + model.head.inputs * model.head.outputs)
        let gradient = ModelFixtures.lossAndGradient(model, data, batch: Array(0..<data.exampleCount)).gradient
        let contextWeights = headWeights.filter { ($0 - model.head.weightOffset) / model.head.outputs >= 5 }
        #expect(contextWeights.count == 3)
        #expect(contextWeights.contains { gradient[$0] != 0 })
        let labelled = try #require((0..<data.exampleCount).first { data.targets[data.events(of: $0)].contains { $0 >= 0 } })
        var shifted = data.context
        for k in data.contextRange(of: labelled) { shifted[k] = 1 - shifted[k] }
        let other = try SequenceDataset(
            tokens: data.tokens, tokenCounts: data.tokenCounts, starts: data.starts, targets: data.targets,
            classCount: 2, context: shifted, contextWidth: 3)
        #expect(
            ModelFixtures.lossAndGradient(model, data, batch: [labelled]).loss
                != ModelFixtures.lossAndGradient(model, other, batch: [labelled]).loss)
        // Data whose context does not fit the model is refused, naming the field.
        let error = #expect(throws: VeilError.self) { try Self.gru(classes: 2).validate(data) }
        #expect(error?.field == "context")
    }

    /// The event path: the head also reads each event's embedded row (between the encoder's output and
    /// the context), so the embedding's delta is the sum through the encoder and through the head. The
    /// gradients against central differences, each sequence's norm against its gradient formed alone,
    /// the clipped sum, with and without context, GRU and convolutions, in `Double` and in `Float`.
    @Test func eventPathGradientsNormsAndClippedSum() throws {
        for classes in [2, 4] {
            for contextWidth in [0, 3] {
                let data = try Self.data(classes: classes, contextWidth: contextWidth)
                let gru = Self.gru(classes: classes, contextWidth: contextWidth, headReadsEvents: true)
                let cnn = Self.cnn(classes: classes, contextWidth: contextWidth, headReadsEvents: true)
                #expect(gru.head.inputs == 5 + 4 + contextWidth && cnn.head.inputs == 5 + 4 + contextWidth)
                try checkGradients(gru, data: data)
                try checkGradients(cnn, data: data)
                try checkFloat(
                    Self.gruFloat(classes: classes, contextWidth: contextWidth, headReadsEvents: true), against: gru, data: data)
                try checkFloat(
                    Self.cnnFloat(classes: classes, contextWidth: contextWidth, headReadsEvents: true), against: cnn, data: data)
            }
        }
        // The path takes part: its head weights (inputs 5..<9) get a gradient, and the embedding's
        // gradient is not what the encoder alone sends back (the same parameters with the path's head
        // weights zeroed, which leaves the loss as a model without the path would have it).
        let model = Self.gru(classes: 4, headReadsEvents: true)
        let data = try Self.data(classes: 4)
        let batch = Array(0..<data.exampleCount)
        let gradient = ModelFixtures.lossAndGradient(model, data, batch: batch).gradient
        let outputs = model.head.outputs
        let pathWeights = (5 * outputs)..<(9 * outputs)
        #expect(pathWeights.contains { gradient[model.head.weightOffset + $0] != 0 })
        var withoutPath = model
        for k in pathWeights { withoutPath.parameters[model.head.weightOffset + k] = 0 }
        let plain = ModelFixtures.lossAndGradient(withoutPath, data, batch: batch).gradient
        let embedding = 0..<model.embedding.parameterCount
        #expect(embedding.contains { plain[$0] != gradient[$0] })
    }

    /// The repeat path over field 1 (its tokens 1 and 2 are classes 0 and 1; sequences repeat them):
    /// gradients against central differences, each sequence's norm against its gradient formed alone,
    /// the clipped sum, with and without context and the event path, GRU and convolutions, in `Double`
    /// and in `Float`; its two weights get a gradient.
    @Test func repeatPathGradientsNormsAndClippedSum() throws {
        for contextWidth in [0, 3] {
            for events in [false, true] {
                let data = try Self.data(classes: 4, contextWidth: contextWidth)
                let gru = Self.gru(classes: 4, contextWidth: contextWidth, headReadsEvents: events, repeatField: 1)
                let cnn = Self.cnn(classes: 4, contextWidth: contextWidth, headReadsEvents: events, repeatField: 1)
                #expect(gru.parameters.count == Self.gru(classes: 4, contextWidth: contextWidth, headReadsEvents: events).parameters.count + 2)
                try checkGradients(gru, data: data)
                try checkGradients(cnn, data: data)
                try checkFloat(
                    Self.gruFloat(classes: 4, contextWidth: contextWidth, headReadsEvents: events, repeatField: 1), against: gru, data: data)
                try checkFloat(
                    Self.cnnFloat(classes: 4, contextWidth: contextWidth, headReadsEvents: events, repeatField: 1), against: cnn, data: data)
            }
        }
        let model = Self.gru(classes: 4, repeatField: 1)
        let data = try Self.data(classes: 4)
        let gradient = ModelFixtures.lossAndGradient(model, data, batch: Array(0..<data.exampleCount)).gradient
        #expect(gradient[model.repeatOffset] != 0 && gradient[model.repeatOffset + 1] != 0)
    }

    /// What the repeat path adds, by hand: one sequence whose field-1 tokens are 1, 2, 1, 0 (classes 0, 1,
    /// 0, none). At its last event class 0 was seen 1 event before, class 1 two, classes 2 and 3 never, so
    /// with w_seen = 1.5 and w_recent = 2 the log-odds of class 0 against class 2 rise by 1.5 + 2 · 0.9,
    /// class 1's by 1.5 + 2 · 0.81, class 3's by nothing, against the same parameters without the path.
    @Test func theRepeatPathAddsItsWeightsToSeenClasses() throws {
        let data = try SequenceDataset(
            tokens: [0, 1, 3, 2, 5, 1, 4, 0], tokenCounts: Self.tokenCounts, starts: [0, 4], targets: [-1, -1, -1, 2],
            classCount: 4)
        var model = Self.gru(classes: 4, repeatField: 1)
        model.parameters[model.repeatOffset] = 1.5
        model.parameters[model.repeatOffset + 1] = 2
        var plain = Self.gru(classes: 4)
        plain.parameters = Array(model.parameters.dropLast(2))
        let with = try model.lastEventProbabilities(data).map { Foundation.log($0) }
        let without = try plain.lastEventProbabilities(data).map { Foundation.log($0) }
        let raised = (0..<4).map { (with[$0] - with[2]) - (without[$0] - without[2]) }
        #expect(abs(raised[0] - (1.5 + 2 * 0.9)) < 1e-12)
        #expect(abs(raised[1] - (1.5 + 2 * 0.81)) < 1e-12)
        #expect(abs(raised[3]) < 1e-12)
    }

    /// The repeat path learns what a sequence's own items tell. 600 sequences of 3–8 events over 20
    /// items (field 1's tokens 1…20 are classes 0…19), each with one target at its last event: an item
    /// drawn uniformly from the sequence's own events. After 10 epochs of minibatch Adam (seeded), on 600
    /// fresh sequences drawn the same way, the model with the repeat path ranks the target above every
    /// item the sequence does not hold almost always (≥ 0.95); the same model without it, which has to
    /// carry the seen items through 5 GRU units, does so far less often (≤ 0.5; it measured 0.99 and 0.23).
    @Test func theRepeatPathLearnsWhatASequencesOwnItemsTell() throws {
        let tokenCounts = [3, 21]
        func data(seed: UInt64) throws -> SequenceDataset {
            var generator = ChaChaNoiseGenerator(seed: seed)
            var tokens: [Int32] = []
            var targets: [Int32] = []
            var starts = [0]
            for _ in 0..<600 {
                let items = (0..<Int.random(in: 3...8, using: &generator)).map { _ in Int32.random(in: 1...20, using: &generator) }
                for (position, item) in items.enumerated() {
                    tokens += [Int32.random(in: 0..<3, using: &generator), item]
                    targets.append(position == items.count - 1 ? items.randomElement(using: &generator)! - 1 : -1)
                }
                starts.append(targets.count)
            }
            return try SequenceDataset(tokens: tokens, tokenCounts: tokenCounts, starts: starts, targets: targets, classCount: 20)
        }
        func model(repeatPath: Bool) -> SequenceModel<GRULayer<Double>> {
            var generator = ChaChaNoiseGenerator(seed: 81)
            return SequenceModel(
                tokenCounts: tokenCounts, embeddingWidth: 4, classCount: 20, repeatField: repeatPath ? 1 : nil, scale: 0.5,
                makeEncoder: { GRULayer(inputs: $0, hidden: 5, parameterOffset: $1) }, using: &generator)
        }
        /// The share of sequences whose target scores above every item they do not hold.
        func aboveUnseen(_ model: SequenceModel<GRULayer<Double>>, _ data: SequenceDataset) throws -> Double {
            let probabilities = try model.lastEventProbabilities(data)
            var above = 0
            for example in 0..<data.exampleCount {
                let events = data.events(of: example)
                let seen = Set(events.map { Int(data.tokens[$0 * 2 + 1]) - 1 })
                let scores = probabilities[(example * 20)..<((example + 1) * 20)].map { $0 }
                let target = Int(data.targets[events.upperBound - 1])
                if (0..<20).allSatisfy({ seen.contains($0) || scores[$0] < scores[target] }) { above += 1 }
            }
            return Double(above) / Double(data.exampleCount)
        }
        let configuration = SGDConfiguration(batchSize: 32, epochs: 10, optimizer: .adam(learningRate: 0.05))
        var results: [Bool: Double] = [:]
        for repeatPath in [true, false] {
            var shuffling = ChaChaNoiseGenerator(seed: 82)
            let trained = try MinibatchSGD.train(
                model(repeatPath: repeatPath), on: try data(seed: 83), configuration: configuration, shuffling: &shuffling)
            results[repeatPath] = try aboveUnseen(trained.model, try data(seed: 84))
        }
        #expect(try #require(results[true]) >= 0.95)
        #expect(try #require(results[false]) <= 0.5)
    }

    /// Wide and deep learns what only the context tells. 400 sequences of 1–4 random events whose label
    /// (at the last event) is 1 exactly when the first of two uniform context values is above 0.5; after
    /// 15 epochs of minibatch Adam (seeded), on 400 fresh sequences drawn the same way, the model with
    /// context ranks the labels almost perfectly (ROC AUC ≥ 0.95) and the same model without it, seeing
    /// only the tokens, stays near chance (≤ 0.65).
    @Test func theHeadLearnsWhatOnlyTheContextTells() throws {
        func data(seed: UInt64, context: Bool) throws -> SequenceDataset {
            var generator = ChaChaNoiseGenerator(seed: seed)
            var tokens: [Int32] = []
            var targets: [Int32] = []
            var starts = [0]
            var values: [Double] = []
            for _ in 0..<400 {
                let pair = [Double.random(in: 0...1, using: &generator), Double.random(in: 0...1, using: &generator)]
                let length = Int.random(in: 1...4, using: &generator)
                for position in 0..<length {
                    tokens += Self.tokenCounts.map { Int32(Int.random(in: 0..<$0, using: &generator)) }
                    targets.append(position == length - 1 ? (pair[0] > 0.5 ? 1 : 0) : -1)
                }
                starts.append(targets.count)
                values += pair
            }
            return try SequenceDataset(
                tokens: tokens, tokenCounts: Self.tokenCounts, starts: starts, targets: targets, classCount: 2,
                context: context ? values : [], contextWidth: context ? 2 : 0)
        }
        func auc(_ model: SequenceModel<GRULayer<Double>>, _ data: SequenceDataset) throws -> Double {
            let scores = try model.lastEventProbabilities(data)
            let labels = (0..<data.exampleCount).map { data.targets[data.events(of: $0).upperBound - 1] }
            var pairs = 0.0
            var wins = 0.0
            for i in scores.indices where labels[i] == 1 {
                for j in scores.indices where labels[j] == 0 {
                    pairs += 1
                    wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
                }
            }
            return wins / pairs
        }
        let configuration = SGDConfiguration(batchSize: 32, epochs: 15, optimizer: .adam(learningRate: 0.05))
        var results: [Bool: Double] = [:]
        for context in [true, false] {
            var shuffling = ChaChaNoiseGenerator(seed: 71)
            let trained = try MinibatchSGD.train(
                Self.gru(classes: 2, contextWidth: context ? 2 : 0), on: try data(seed: 72, context: context),
                configuration: configuration, shuffling: &shuffling)
            results[context] = try auc(trained.model, try data(seed: 73, context: context))
        }
        #expect(try #require(results[true]) >= 0.95)
        #expect(try #require(results[false]) <= 0.65)
    }

    func checkGradients<Model: TrainableModel>(_ model: Model, data: Model.Data) throws where Model.Scalar == Double {
        // The first 12 sequences' summed gradient against central differences (h = 1e-6).
        let batch = Array(0..<12)
        let analytic = ModelFixtures.lossAndGradient(model, data, batch: batch).gradient
        let numeric = ModelFixtures.finiteDifferenceGradient(model, data, batch: batch)
        for k in numeric.indices {
            #expect(abs(numeric[k] - analytic[k]) <= 1e-6 * max(1, abs(numeric[k])), "parameter \(k)")
        }
        // Norms reported inside one pass over every sequence (chunks of 16, mixed lengths) against each
        // sequence's gradient materialised alone, and the clipped sum.
        ModelFixtures.checkNormsAndClippedSum(
            model, data: data, perExample: ModelFixtures.perExampleGradients(model, data), normTolerance: 1e-9,
            sumTolerance: 1e-12)
    }

    /// The `Float` models against the `Double` ones on the same parameters and data: each sequence's
    /// reported squared norm against the `Double` brute-force norm of its gradient (relative error
    /// < 1e-4; `Float` carries about 7 digits), and the clipped sum (|Δ| ≤ 1e-4 · max(1, |expected|)).
    @Test func floatModelsAgreeWithDoubleNormsAndClippedSums() throws {
        for classes in [2, 4] {
            let data = try Self.data(classes: classes)
            try checkFloat(Self.gruFloat(classes: classes), against: Self.gru(classes: classes), data: data)
            try checkFloat(Self.cnnFloat(classes: classes), against: Self.cnn(classes: classes), data: data)
        }
    }

    func checkFloat<Model: TrainableModel, Reference: TrainableModel>(
        _ model: Model, against reference: Reference, data: SequenceDataset
    ) throws where Model.Data == SequenceDataset, Reference.Data == SequenceDataset, Model.Scalar == Float {
        #expect(model.parameters == reference.parameters)
        ModelFixtures.checkNormsAndClippedSum(
            model, data: data, perExample: ModelFixtures.perExampleGradients(reference, data), normTolerance: 1e-4,
            sumTolerance: 1e-4)
    }

    @Test func dpSGDTrainsSequenceModelsWithinTheClipBound() throws {
        let clip = 0.05
        let data = try Self.data(classes: 4)
        let configuration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: clip, expectedBatchSize: 20, epochs: 2,
            optimizer: .sgd(learningRate: 0.5, momentum: 0.5))
        func train<Model: TrainableModel>(_ model: Model, seed: UInt64, workers: Int) throws -> [Double]
        where Model.Data == SequenceDataset {
            var sampling = ChaChaNoiseGenerator(seed: seed)
            var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: seed &+ 1))
            return try DPSGD.train(
                model, on: data, configuration: configuration, sampling: &sampling, noise: &noise, workers: workers
            ).model.parameters
        }
        // One worker, two, one again (the same seed), eight; in Double and in Float.
        let workerCounts = [1, 2, 1, 8]
        let runs = [
            (Self.gru(classes: 4).parameters, try workerCounts.map { try train(Self.gru(classes: 4), seed: 5, workers: $0) }),
            (Self.cnn(classes: 4).parameters, try workerCounts.map { try train(Self.cnn(classes: 4), seed: 5, workers: $0) }),
            (
                Self.gruFloat(classes: 4).parameters,
                try workerCounts.map { try train(Self.gruFloat(classes: 4), seed: 5, workers: $0) }
            ),
            (
                Self.cnnFloat(classes: 4).parameters,
                try workerCounts.map { try train(Self.cnnFloat(classes: 4), seed: 5, workers: $0) }
            ),
        ]
        for (initial, trained) in runs {
            let finite = trained[0].allSatisfy { $0.isFinite }
            #expect(finite)
            #expect(trained[0] != initial)
            #expect(trained[0].map(\.bitPattern) == trained[1].map(\.bitPattern), "one worker or two")
            #expect(trained[0].map(\.bitPattern) == trained[2].map(\.bitPattern), "same seed")
            #expect(trained[0].map(\.bitPattern) == trained[3].map(\.bitPattern), "one worker or eight")
        }
        // Each sequence's clipped contribution — the trainer's clipped sum over a batch of that one
        // sequence — has norm ≤ C, and the clip binds (the raw gradients are larger than C).
        // In Float (as `veil train` runs), within the two Float roundings of the weighted add — the
        // weight narrowed to Float and each product, each ≤ 2⁻²⁴ relative — since the norm the weight
        // comes from is summed in Double.
        try ModelFixtures.checkClipBound(Self.gru(classes: 4), data: data, clip: clip)
        try ModelFixtures.checkClipBound(Self.cnn(classes: 4), data: data, clip: clip)
        try ModelFixtures.checkClipBound(Self.gruFloat(classes: 4), data: data, clip: clip, tolerance: 2 * Double(Float.ulpOfOne))
        try ModelFixtures.checkClipBound(Self.cnnFloat(classes: 4), data: data, clip: clip, tolerance: 2 * Double(Float.ulpOfOne))
    }
}
