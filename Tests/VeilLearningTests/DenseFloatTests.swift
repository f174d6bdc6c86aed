import Foundation
import Testing
import VeilCrypto
@testable import VeilLearning

/// Dense models computing in `Float` (`DenseNetwork<Float>`, what `DenseModel.train` and so `veil
/// train` run) against the `Double` model on the same parameters: the `Double` brute force stays the
/// reference, at tolerances stated for `Float`'s 24-bit significand.
@Suite struct DenseFloatTests {
    /// The gradient tests' architectures, one whose layers span `MatrixKernels`' 16- and 8-column
    /// `Float` tiles with a partial block after them, and the benchmark's MLP 40→64→1.
    static func architectures() throws -> [(ModelArchitecture, features: Int, classes: Int)] {
        try ModelFixtures.architectures(features: 6).map { ($0.0, 6, $0.classes) } + [
            (try ModelArchitecture(inputSize: 19, hiddenSizes: [27, 17], head: .sigmoid), 19, 2),
            (try ModelArchitecture(inputSize: 40, hiddenSizes: [64], head: .sigmoid), 40, 2),
        ]
    }

    /// Each example's reported squared norm against the squared norm of its `Double` gradient formed
    /// alone (relative error < 1e-4: the passes round to `Float`, about 6e-8 relative per operation, the
    /// norms are summed in `Double`), and the clipped sum against Σ_e min(1, C/‖g_e‖)·g_e formed from
    /// those gradients (|Δ| ≤ 1e-4 · max(1, |value|)).
    @Test func floatNormsAndClippedSumsAgreeWithTheDoubleBruteForce() throws {
        for (architecture, features, classes) in try Self.architectures() {
            let data = ModelFixtures.data(rows: 20, features: features, classes: classes)
            let reference = ModelFixtures.network(architecture)
            let model = DenseNetwork<Float>(converting: reference)
            #expect(model.parameters == reference.parameters)
            ModelFixtures.checkNormsAndClippedSum(
                model, data: data, perExample: ModelFixtures.perExampleGradients(reference, data), normTolerance: 1e-4,
                sumTolerance: 1e-4)
        }
    }

    /// Each example's clipped contribution has norm ≤ C up to the `Float` roundings of the weighted add —
    /// the weight narrowed to `Float`, w·a, then (w·a)·δ, each ≤ 2⁻²⁴ relative: within C · (1 + 2⁻²²) —
    /// since the norm the weight comes from is summed in `Double`; and the clip binds.
    @Test func floatClippedContributionsStayWithinTheClippingNorm() throws {
        for (architecture, features, classes) in try Self.architectures() {
            let data = ModelFixtures.data(rows: 20, features: features, classes: classes)
            let model = DenseNetwork<Float>(converting: ModelFixtures.network(architecture))
            try ModelFixtures.checkClipBound(model, data: data, clip: 0.05, tolerance: 2 * Double(Float.ulpOfOne))
        }
    }

    /// Seeded DP-SGD in `Float` gives the same bits on one, two, three or eight workers (batches of
    /// about 150 rows are three chunks, taken in any order), and again with the same seed.
    @Test func seededFloatTrainingIsTheSameOnAnyNumberOfWorkers() throws {
        let configuration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: 1, expectedBatchSize: 150, epochs: 3,
            optimizer: .sgd(learningRate: 0.5, momentum: 0.5))
        for (architecture, features, classes) in try Self.architectures() {
            let data = ModelFixtures.data(rows: 300, features: features, classes: classes)
            let initial = DenseNetwork<Float>(converting: ModelFixtures.network(architecture))
            let runs = try [1, 2, 3, 8, 1].map { workers in
                var sampling = ChaChaNoiseGenerator(seed: 9)
                var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 10))
                return try DPSGD.train(
                    initial, on: data, configuration: configuration, sampling: &sampling, noise: &noise, workers: workers
                ).model.parameters.map(\.bitPattern)
            }
            #expect(runs.allSatisfy { $0 == runs[0] }, "\(architecture.kind)")
            #expect(runs[0] != initial.parameters.map(\.bitPattern))
        }
    }

    /// Quality does not move with the precision: on a fixed data set with a signal, seeded DP-SGD
    /// (σ = 0.8, C = 1, the same sampling and noise draws) trained through `DenseModel.train` (`Float`
    /// passes) and in `Double` reach holdout ROC AUCs within 0.001 of each other, for logistic regression
    /// and an MLP (measured: 0.8317 and 0.8636, the same to 16 digits). The parameters differ — so the
    /// public path does train in `Float` — by less than 1e-5 (measured: 3.6e-8 and 4.6e-8).
    @Test func floatTrainingMatchesTheDoubleModelsQuality() throws {
        var generator = ChaChaNoiseGenerator(seed: 21)
        let all = LabeledDataset.synthetic(rows: 6000, featureCount: 12, signal: 4, using: &generator)
        let trainRows = 4000
        let train = try LabeledDataset(
            features: Array(all.features[..<(trainRows * 12)]), featureCount: 12, labels: Array(all.labels[..<trainRows]))
        let holdout = Array(all.features[(trainRows * 12)...])
        let holdoutLabels = Array(all.labels[trainRows...])
        let configuration = DPSGDConfiguration(
            noiseMultiplier: 0.8, clippingNorm: 1, expectedBatchSize: 200, epochs: 4, optimizer: .adam(learningRate: 0.02))
        for architecture in [try ModelArchitecture.logisticRegression(inputSize: 12),
                             try ModelArchitecture(inputSize: 12, hiddenSizes: [32], head: .sigmoid)] {
            var initial = ChaChaNoiseGenerator(seed: 2)
            var sampling = ChaChaNoiseGenerator(seed: 3)
            var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 4))
            let float = try DenseModel.train(
                architecture, on: train, trainer: .dpSGD(configuration), initial: &initial, sampling: &sampling,
                noise: &noise
            ).network
            var initialAgain = ChaChaNoiseGenerator(seed: 2)
            var samplingAgain = ChaChaNoiseGenerator(seed: 3)
            var noiseAgain = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 4))
            let double = try DPSGD.train(
                DenseModel(architecture: architecture, using: &initialAgain), on: train, configuration: configuration,
                sampling: &samplingAgain, noise: &noiseAgain
            ).network
            let floatAUC = try #require(
                try BinaryPredictions(probabilities: float.predictProbabilities(holdout), labels: holdoutLabels).rocAUC)
            let doubleAUC = try #require(
                try BinaryPredictions(probabilities: double.predictProbabilities(holdout), labels: holdoutLabels).rocAUC)
            #expect(doubleAUC > 0.75, "\(architecture.kind): the data should carry a signal")
            #expect(abs(floatAUC - doubleAUC) <= 0.001, "\(architecture.kind): Float \(floatAUC), Double \(doubleAUC)")
            #expect(float.parameters != double.parameters)
            let largest = zip(float.parameters, double.parameters).map { abs($0 - $1) }.max() ?? 0
            #expect(largest < 1e-5, "\(architecture.kind): largest parameter difference \(largest)")
        }
    }
}
