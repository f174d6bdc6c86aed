@testable import VeilLearning
import VeilCrypto

/// Small shared inputs for the learning tests.
enum ModelFixtures {
    static func data(rows: Int = 64, features: Int = 5, classes: Int = 2, seed: UInt64 = 1) -> LabeledDataset {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return LabeledDataset.synthetic(rows: rows, featureCount: features, classCount: classes, using: &generator)
    }

    static func network(_ architecture: ModelArchitecture, seed: UInt64 = 2) -> Network {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return Network(architecture: architecture, using: &generator)
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

    /// Each example's own gradient, materialised by a batch of one (the reference ghost clipping avoids).
    static func perExampleGradients(_ network: Network, _ data: LabeledDataset) -> [[Double]] {
        (0..<data.rowCount).map { row in
            var engine = TrainingEngine(network: network, optimizer: .sgd(learningRate: 1), expectedRows: 1)
            _ = engine.forwardBackward(batch: [row], data: data)
            engine.workspace.setRowWeights(1)
            engine.accumulateGradient()
            return engine.gradient
        }
    }

    static func norm(_ values: [Double]) -> Double {
        values.reduce(0) { $0 + $1 * $1 }.squareRoot()
    }

    static func relativeError(_ a: Double, _ b: Double) -> Double {
        abs(a - b) / max(abs(a), abs(b), 1e-300)
    }
}
