import Foundation
import Testing
import VeilCrypto
@testable import VeilLearning

@Suite struct GradientTests {
    @Test func backpropMatchesFiniteDifferences() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 4) {
            let data = ModelFixtures.data(rows: 3, features: 4, classes: classes)
            let network = ModelFixtures.network(architecture)
            var engine = TrainingEngine(network: network, optimizer: .sgd(learningRate: 1), expectedRows: 3)
            _ = engine.forwardBackward(batch: [0, 1, 2], data: data)
            engine.workspace.setRowWeights(1)
            engine.accumulateGradient()
            let analytic = engine.gradient

            func loss(_ parameters: [Double]) -> Double {
                var probe = TrainingEngine(
                    network: try! Network(architecture: architecture, parameters: parameters),
                    optimizer: .sgd(learningRate: 1), expectedRows: 3)
                return probe.forwardBackward(batch: [0, 1, 2], data: data)
            }
            let h = 1e-6
            for k in network.parameters.indices {
                var plus = network.parameters, minus = network.parameters
                plus[k] += h
                minus[k] -= h
                let numeric = (loss(plus) - loss(minus)) / (2 * h)
                #expect(abs(numeric - analytic[k]) < 1e-6 * max(1, abs(numeric)), "\(architecture.kind) parameter \(k)")
            }
        }
    }

    @Test func ghostNormsEqualMaterialisedNorms() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 6) {
            let data = ModelFixtures.data(rows: 20, features: 6, classes: classes)
            let network = ModelFixtures.network(architecture)
            let reference = ModelFixtures.perExampleGradients(network, data).map(ModelFixtures.norm)

            var engine = TrainingEngine(network: network, optimizer: .sgd(learningRate: 1), expectedRows: 20)
            _ = engine.forwardBackward(batch: Array(0..<20), data: data)
            engine.workspace.computeGhostSquaredNorms()
            for row in 0..<20 {
                let ghost = engine.workspace.squaredNorms[row].squareRoot()
                #expect(ModelFixtures.relativeError(ghost, reference[row]) < 1e-9, "\(architecture.kind) row \(row)")
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

            var engine = TrainingEngine(network: network, optimizer: .sgd(learningRate: 1), expectedRows: 20)
            _ = engine.forwardBackward(batch: Array(0..<20), data: data)
            DPSGD.setClipFactors(engine.workspace, clippingNorm: clip)
            engine.accumulateGradient()
            for k in expected.indices {
                #expect(abs(engine.gradient[k] - expected[k]) <= 1e-12 * max(1, abs(expected[k])))
            }
        }
    }
}
