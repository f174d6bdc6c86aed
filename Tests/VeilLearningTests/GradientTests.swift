import Foundation
import Testing
import VeilCrypto
@testable import VeilLearning

@Suite struct GradientTests {
    @Test func backpropMatchesFiniteDifferences() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 4) {
            let data = ModelFixtures.data(rows: 3, features: 4, classes: classes)
            let network = ModelFixtures.network(architecture)
            let analytic = ModelFixtures.lossAndGradient(network, data, batch: [0, 1, 2]).gradient
            let numeric = ModelFixtures.finiteDifferenceGradient(network, data, batch: [0, 1, 2])
            for k in network.parameters.indices {
                #expect(abs(numeric[k] - analytic[k]) < 1e-6 * max(1, abs(numeric[k])), "\(architecture.kind) parameter \(k)")
            }
        }
    }

    @Test func ghostNormsEqualMaterialisedNorms() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 6) {
            let data = ModelFixtures.data(rows: 20, features: 6, classes: classes)
            let network = ModelFixtures.network(architecture)
            let reference = ModelFixtures.perExampleGradients(network, data).map(ModelFixtures.norm)
            let ghost = ModelFixtures.squaredNorms(network, data, examples: Array(0..<20)).map { $0.squareRoot() }
            for row in 0..<20 {
                #expect(ModelFixtures.relativeError(ghost[row], reference[row]) < 1e-9, "\(architecture.kind) row \(row)")
            }
        }
    }

    @Test func clippedSumEqualsSumOfClippedMaterialisedGradients() throws {
        let clip = 0.3
        for (architecture, classes) in try ModelFixtures.architectures(features: 6) {
            let data = ModelFixtures.data(rows: 20, features: 6, classes: classes)
            let network = ModelFixtures.network(architecture)
            let perExample = ModelFixtures.perExampleGradients(network, data)
            var expected = [Double](repeating: 0, count: network.parameters.count)
            var clippedSome = false
            for gradient in perExample {
                let norm = ModelFixtures.norm(gradient)
                let factor = min(1, clip / norm)
                clippedSome = clippedSome || factor < 1
                let contribution = gradient.map { $0 * factor }
                #expect(ModelFixtures.norm(contribution) <= clip * (1 + 1e-12))
                for k in expected.indices { expected[k] += contribution[k] }
            }
            #expect(clippedSome, "the test should exercise clipping")

            var engine = TrainingEngine(model: network, optimizer: .sgd(learningRate: 1), expectedExamples: 20)
            _ = engine.computeGradient(batch: Array(0..<20), data: data, weighting: .clipped(clippingNorm: clip))
            for k in expected.indices {
                #expect(abs(engine.gradient[k] - expected[k]) <= 1e-12 * max(1, abs(expected[k])))
            }
        }
    }

    /// Layers wide enough for `MatrixKernels`' tiles (8 and 16 columns, with a partial block after them)
    /// in the forward pass: backprop against finite differences, ghost norms against materialised ones.
    @Test func wideLayersMatchFiniteDifferencesAndMaterialisedNorms() throws {
        let architecture = try ModelArchitecture(inputSize: 19, hiddenSizes: [27, 17], head: .sigmoid)
        let data = ModelFixtures.data(rows: 20, features: 19)
        let network = ModelFixtures.network(architecture)
        let analytic = ModelFixtures.lossAndGradient(network, data, batch: [0, 1, 2]).gradient
        let numeric = ModelFixtures.finiteDifferenceGradient(network, data, batch: [0, 1, 2])
        for k in network.parameters.indices {
            #expect(abs(numeric[k] - analytic[k]) < 1e-6 * max(1, abs(numeric[k])), "parameter \(k)")
        }
        let reference = ModelFixtures.perExampleGradients(network, data).map(ModelFixtures.norm)
        let ghost = ModelFixtures.squaredNorms(network, data, examples: Array(0..<20)).map { $0.squareRoot() }
        for row in 0..<20 { #expect(ModelFixtures.relativeError(ghost[row], reference[row]) < 1e-9, "row \(row)") }
    }
}
