import Testing
@testable import VeilLearning
import VeilCrypto

/// Small shared inputs for the learning tests.
enum ModelFixtures {
    static func data(rows: Int = 64, features: Int = 5, classes: Int = 2, seed: UInt64 = 1) -> LabeledDataset {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return LabeledDataset.synthetic(rows: rows, featureCount: features, classCount: classes, using: &generator)
    }

    static func network(_ architecture: ModelArchitecture, seed: UInt64 = 2) -> DenseModel {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return DenseModel(architecture: architecture, using: &generator)
    }

    /// The architectures every gradient test covers: logistic, a two-hidden-layer MLP, softmax regression
    /// and an MLP with a softmax head.
    static func architectures(features: Int) throws -> [(ModelArchitecture, classes: Int)] {
        [
            (try .logisticRegression(inputSize: features), 2),
            (try ModelArchitecture(inputSize: features, hiddenSizes: [7, 4], head: .sigmoid), 2),
            (try .softmaxRegression(inputSize: features, classes: 4), 4),
            (try ModelArchitecture(inputSize: features, hiddenSizes: [6], head: .softmax(classes: 3)), 3),
        ]
    }

    /// The summed loss and gradient of `model` over the examples `batch` (weight 1 each).
    static func lossAndGradient<Model: TrainableModel>(
        _ model: Model, _ data: Model.Data, batch: [Int]
    ) -> (loss: Double, gradient: [Double]) {
        var engine = TrainingEngine(model: model, optimizer: .sgd(learningRate: 1), expectedExamples: batch.count)
        let loss = engine.computeGradient(batch: batch, data: data, weighting: .constant(1))
        return (loss, engine.gradient)
    }

    /// Each example's own gradient, materialised by a batch of one (the reference ghost clipping avoids).
    static func perExampleGradients<Model: TrainableModel>(_ model: Model, _ data: Model.Data) -> [[Double]] {
        (0..<data.exampleCount).map { lossAndGradient(model, data, batch: [$0]).gradient }
    }

    /// Each example's gradient by central differences of its own loss — independent of every backward
    /// pass and norm shortcut. `h` is the step.
    static func finiteDifferenceGradient<Model: TrainableModel>(
        _ model: Model, _ data: Model.Data, batch: [Int], h: Double = 1e-6
    ) -> [Double] {
        model.parameters.indices.map { k in
            var plus = model, minus = model
            plus.parameters[k] += h
            minus.parameters[k] -= h
            return (lossAndGradient(plus, data, batch: batch).loss - lossAndGradient(minus, data, batch: batch).loss) / (2 * h)
        }
    }

    /// What the model reports as each example's squared gradient norm after one pass over `examples`.
    static func squaredNorms<Model: TrainableModel>(_ model: Model, _ data: Model.Data, examples: [Int]) -> [Double] {
        let workspace = model.makeWorkspace(examples: examples.count)
        let parameters = model.parameters.map { Model.Scalar($0) }
        parameters.withUnsafeBufferPointer { parameters in
            examples.withUnsafeBufferPointer { indices in
                _ = model.forwardBackward(indices, data: data, parameters: parameters.baseAddress!, workspace: workspace)
            }
        }
        return examples.indices.map { model.squaredGradientNorm(example: $0, workspace: workspace) }
    }

    /// `model`'s reported squared norms against `perExample` (each example's gradient formed alone;
    /// relative error < `normTolerance`, exactly 0 where the gradient is), and the clipped sum the trainer
    /// forms against Σ_e min(1, C/‖g_e‖)·g_e with C the median norm (|Δ| ≤ `sumTolerance` · max(1, |value|)).
    static func checkNormsAndClippedSum<Model: TrainableModel>(
        _ model: Model, data: Model.Data, perExample: [[Double]], normTolerance: Double, sumTolerance: Double
    ) {
        let examples = Array(0..<data.exampleCount)
        let reported = ModelFixtures.squaredNorms(model, data, examples: examples)
        for example in examples {
            let expected = perExample[example].reduce(0) { $0 + $1 * $1 }
            if expected == 0 {
                #expect(reported[example] == 0, "example \(example)")
            } else {
                #expect(ModelFixtures.relativeError(reported[example], expected) < normTolerance, "example \(example)")
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

    /// Each example's clipped contribution — the trainer's clipped sum over a batch of that one example —
    /// has norm ≤ C · (1 + `tolerance`), and the clip binds for at least one example.
    static func checkClipBound<Model: TrainableModel>(
        _ model: Model, data: Model.Data, clip: Double, tolerance: Double = 1e-12
    ) throws {
        var engine = TrainingEngine(model: model, optimizer: .sgd(learningRate: 1), expectedExamples: 1)
        var clipped = 0
        for example in 0..<data.exampleCount {
            _ = engine.computeGradient(batch: [example], data: data, weighting: .clipped(clippingNorm: clip))
            #expect(ModelFixtures.norm(engine.gradient) <= clip * (1 + tolerance), "example \(example)")
            let raw = ModelFixtures.lossAndGradient(model, data, batch: [example]).gradient
            if ModelFixtures.norm(raw) > clip { clipped += 1 }
        }
        #expect(clipped > 0)
    }

    static func norm(_ values: [Double]) -> Double {
        values.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    static func relativeError(_ a: Double, _ b: Double) -> Double {
        abs(a - b) / max(abs(a), abs(b), 1e-300)
    }
}
