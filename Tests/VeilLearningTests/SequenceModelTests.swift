import Foundation
import Testing
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
    /// (-1 elsewhere); sequence 1 is sequence 0 again.
    static func data(classes: Int, seed: UInt64 = 61) throws -> SequenceDataset {
        var generator = ChaChaNoiseGenerator(seed: seed)
        var tokens: [Int32] = []
        var targets: [Int32] = []
        var starts = [0]
        for sequence in 0..<40 {
            if sequence == 1 {
                tokens += tokens
                targets += targets
            } else {
                for _ in 0..<Int.random(in: 0...6, using: &generator) {
                    tokens += tokenCounts.map { Int32(Int.random(in: 0..<$0, using: &generator)) }
                    targets.append(Int32(Int.random(in: -1..<classes, using: &generator)))
                }
            }
            starts.append(targets.count)
        }
        return try SequenceDataset(
            tokens: tokens, tokenCounts: tokenCounts, starts: starts, targets: targets, classCount: classes)
    }

    static func gru(classes: Int, seed: UInt64 = 62) -> SequenceModel<GRULayer<Double>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, scale: 0.5,
            makeEncoder: { GRULayer(inputs: $0, hidden: 5, parameterOffset: $1) }, using: &generator)
    }

    static func cnn(classes: Int, seed: UInt64 = 63) -> SequenceModel<ConvolutionStack<Double>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, scale: 0.5,
            makeEncoder: { ConvolutionStack(inputs: $0, channels: 5, width: 2, depth: 2, parameterOffset: $1) },
            using: &generator)
    }

    /// The same models computing in `Float` (the same parameters: the initialisation draws in `Double`).
    static func gruFloat(classes: Int, seed: UInt64 = 62) -> SequenceModel<GRULayer<Float>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, scale: 0.5,
            makeEncoder: { GRULayer(inputs: $0, hidden: 5, parameterOffset: $1) }, using: &generator)
    }

    static func cnnFloat(classes: Int, seed: UInt64 = 63) -> SequenceModel<ConvolutionStack<Float>> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return SequenceModel(
            tokenCounts: tokenCounts, embeddingWidth: 4, classCount: classes, scale: 0.5,
            makeEncoder: { ConvolutionStack(inputs: $0, channels: 5, width: 2, depth: 2, parameterOffset: $1) },
            using: &generator)
    }

    @Test func gruModelGradientsNormsAndClippedSum() throws {
        for classes in [2, 4] { try checkGradients(Self.gru(classes: classes), data: Self.data(classes: classes)) }
    }

    @Test func cnnModelGradientsNormsAndClippedSum() throws {
        for classes in [2, 4] { try checkGradients(Self.cnn(classes: classes), data: Self.data(classes: classes)) }
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
        checkNormsAndClippedSum(
            model, data: data, perExample: ModelFixtures.perExampleGradients(model, data), normTolerance: 1e-9,
            sumTolerance: 1e-12)
    }

    /// `model`'s reported squared norms against `perExample` (each sequence's gradient formed alone;
    /// relative error < `normTolerance`, exactly 0 where the gradient is), and the clipped sum the trainer
    /// forms against Σ_e min(1, C/‖g_e‖)·g_e with C the median norm (|Δ| ≤ `sumTolerance` · max(1, |value|)).
    func checkNormsAndClippedSum<Model: TrainableModel>(
        _ model: Model, data: Model.Data, perExample: [[Double]], normTolerance: Double, sumTolerance: Double
    ) {
        let examples = Array(0..<data.exampleCount)
        let reported = ModelFixtures.squaredNorms(model, data, examples: examples)
        for example in examples {
            let expected = perExample[example].reduce(0) { $0 + $1 * $1 }
            if expected == 0 {
                #expect(reported[example] == 0, "sequence \(example)")
            } else {
                #expect(ModelFixtures.relativeError(reported[example], expected) < normTolerance, "sequence \(example)")
            }
        }
        let norms = perExample.map(ModelFixtures.norm)
        let clip = norms.filter { $0 > 0 }.sorted()[norms.filter { $0 > 0 }.count / 2]
        var expected = [Double](repeating: 0, count: model.parameters.count)
        for (gradient, norm) in zip(perExample, norms) {
            let factor = norm > clip ? clip / norm : 1
            for k in expected.indices { expected[k] += gradient[k] * factor }
        }
        var engine = TrainingEngine(model: model, optimizer: .sgd(learningRate: 1), expectedExamples: examples.count)
        _ = engine.computeGradient(batch: examples, data: data, weighting: .clipped(clippingNorm: clip))
        for k in expected.indices {
            #expect(abs(engine.gradient[k] - expected[k]) <= sumTolerance * max(1, abs(expected[k])), "clipped sum, \(k)")
        }
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
        checkNormsAndClippedSum(
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
        try checkClipBound(Self.gru(classes: 4), data: data, clip: clip)
        try checkClipBound(Self.cnn(classes: 4), data: data, clip: clip)
        try checkClipBound(Self.gruFloat(classes: 4), data: data, clip: clip, tolerance: 2 * Double(Float.ulpOfOne))
        try checkClipBound(Self.cnnFloat(classes: 4), data: data, clip: clip, tolerance: 2 * Double(Float.ulpOfOne))
    }

    func checkClipBound<Model: TrainableModel>(
        _ model: Model, data: Model.Data, clip: Double, tolerance: Double = 1e-12
    ) throws {
        var engine = TrainingEngine(model: model, optimizer: .sgd(learningRate: 1), expectedExamples: 1)
        var clipped = 0
        for example in 0..<data.exampleCount {
            _ = engine.computeGradient(batch: [example], data: data, weighting: .clipped(clippingNorm: clip))
            #expect(ModelFixtures.norm(engine.gradient) <= clip * (1 + tolerance), "sequence \(example)")
            let raw = ModelFixtures.lossAndGradient(model, data, batch: [example]).gradient
            if ModelFixtures.norm(raw) > clip { clipped += 1 }
        }
        #expect(clipped > 0)
    }
}
