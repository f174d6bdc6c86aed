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

    static func norm(_ values: [Double]) -> Double {
        values.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    static func relativeError(_ a: Double, _ b: Double) -> Double {
        abs(a - b) / max(abs(a), abs(b), 1e-300)
    }
}
