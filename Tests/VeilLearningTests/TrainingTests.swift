import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

@Suite struct TrainingTests {
    static let configuration = DPSGDConfiguration(
        noiseMultiplier: 1.0, clippingNorm: 1.0, expectedBatchSize: 32, epochs: 3,
        optimizer: .sgd(learningRate: 0.5, momentum: 0.5))

    func trainDP(_ architecture: ModelArchitecture, data: LabeledDataset, seed: UInt64,
                 configuration: DPSGDConfiguration = configuration) throws -> TrainingResult {
        var sampling = ChaChaNoiseGenerator(seed: seed)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: seed &+ 1))
        return try DPSGD.train(
            ModelFixtures.network(architecture), on: data, configuration: configuration,
            sampling: &sampling, noise: &noise)
    }

    @Test func dpTrainingIsBitwiseDeterministic() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 5) {
            let data = ModelFixtures.data(rows: 300, features: 5, classes: classes)
            let first = try trainDP(architecture, data: data, seed: 9)
            let second = try trainDP(architecture, data: data, seed: 9)
            let other = try trainDP(architecture, data: data, seed: 10)
            #expect(first.network.parameters.map(\.bitPattern) == second.network.parameters.map(\.bitPattern))
            #expect(first.network.parameters != other.network.parameters)
        }
    }

    @Test func dpTrainingIsTheSameOnAnyNumberOfWorkers() throws {
        // Batches of about 150 rows span three chunks of 64, which workers take in any order.
        var configuration = Self.configuration
        configuration.expectedBatchSize = 150
        for (architecture, classes) in try ModelFixtures.architectures(features: 5) {
            let data = ModelFixtures.data(rows: 300, features: 5, classes: classes)
            let runs = try [1, 2, 3, 8].map { workers in
                var sampling = ChaChaNoiseGenerator(seed: 9)
                var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 10))
                return try DPSGD.train(
                    ModelFixtures.network(architecture), on: data, configuration: configuration,
                    sampling: &sampling, noise: &noise, workers: workers
                ).network.parameters.map(\.bitPattern)
            }
            #expect(runs.allSatisfy { $0 == runs[0] }, "\(architecture.kind)")
        }
    }

    @Test func sgdTrainingIsTheSameOnAnyNumberOfWorkers() throws {
        let architecture = try ModelArchitecture(inputSize: 5, hiddenSizes: [8], head: .softmax(classes: 3))
        let data = ModelFixtures.data(rows: 400, features: 5, classes: 3)
        let runs = try [1, 2, 5].map { workers in
            var shuffling = ChaChaNoiseGenerator(seed: 4)
            return try MinibatchSGD.train(
                ModelFixtures.network(architecture), on: data, configuration: SGDConfiguration(batchSize: 200, epochs: 2),
                shuffling: &shuffling, workers: workers
            ).network.parameters.map(\.bitPattern)
        }
        #expect(runs.allSatisfy { $0 == runs[0] })
    }

    /// 1,000 rows are four scoring blocks (the last partial), taken by the workers in any order: the same
    /// probabilities, bit for bit, on one worker or several, and the same as scoring each row alone.
    @Test func scoringIsTheSameOnAnyNumberOfWorkers() throws {
        for (architecture, classes) in try ModelFixtures.architectures(features: 5) + [
            (try ModelArchitecture(inputSize: 5, hiddenSizes: [24], head: .softmax(classes: 3)), 3)
        ] {
            let data = ModelFixtures.data(rows: 1_000, features: 5, classes: classes)
            let network = ModelFixtures.network(architecture)
            let runs = try [1, 2, 3, 8].map { try network.predictProbabilities(data.features, workers: $0).map(\.bitPattern) }
            #expect(runs.allSatisfy { $0 == runs[0] }, "\(architecture.kind)")
            let alone = try (0..<1_000).flatMap { row in
                try network.predictProbabilities(Array(data.features[(row * 5)..<(row * 5 + 5)]), workers: 1)
            }
            #expect(runs[0] == alone.map(\.bitPattern), "\(architecture.kind)")
            #expect(runs[0].count == 1_000 * architecture.outputSize)
        }
    }

    @Test func sgdTrainingIsBitwiseDeterministic() throws {
        let architecture = try ModelArchitecture(inputSize: 5, hiddenSizes: [8], head: .sigmoid)
        let data = ModelFixtures.data(rows: 300, features: 5)
        func run() throws -> [UInt64] {
            var shuffling = ChaChaNoiseGenerator(seed: 4)
            return try MinibatchSGD.train(
                ModelFixtures.network(architecture), on: data, configuration: SGDConfiguration(batchSize: 32, epochs: 2),
                shuffling: &shuffling
            ).network.parameters.map(\.bitPattern)
        }
        #expect(try run() == run())
    }

    @Test func reportCarriesWhatTheAccountantNeeds() throws {
        let data = ModelFixtures.data(rows: 300, features: 5)
        var epochs: [EpochProgress] = []
        var sampling = ChaChaNoiseGenerator(seed: 1)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 2))
        let result = try DPSGD.train(
            ModelFixtures.network(.logisticRegression(inputSize: 5)), on: data, configuration: Self.configuration,
            sampling: &sampling, noise: &noise, onEpoch: { epochs.append($0) })
        let report = result.report
        #expect(report.mechanism == .dpSGD)
        #expect(report.samplingRate == 32.0 / 300.0)
        #expect(report.steps == 3 * 9)  // round(300 / 32) = 9 steps per epoch
        #expect(report.noiseMultiplier == 1.0 && report.clippingNorm == 1.0)
        #expect(epochs.map(\.epoch) == [1, 2, 3])
        #expect(epochs.map(\.steps) == [9, 18, 27])
        #expect(epochs.allSatisfy { $0.meanLoss.isFinite && $0.meanLoss > 0 })
    }

    @Test func dpTrainingLearnsASignal() throws {
        var generator = ChaChaNoiseGenerator(seed: 21)
        let all = LabeledDataset.synthetic(rows: 3000, featureCount: 6, signal: 8, using: &generator)
        let train = try LabeledDataset(
            features: Array(all.features[..<(2000 * 6)]), featureCount: 6, labels: Array(all.labels[..<2000]))
        let configuration = DPSGDConfiguration(
            noiseMultiplier: 0.8, clippingNorm: 1, expectedBatchSize: 100, epochs: 5,
            optimizer: .adam(learningRate: 0.05))
        for architecture in [try ModelArchitecture.logisticRegression(inputSize: 6),
                             try ModelArchitecture(inputSize: 6, hiddenSizes: [16], head: .sigmoid)] {
            let result = try trainDP(architecture, data: train, seed: 3, configuration: configuration)
            let probabilities = try result.network.predictProbabilities(Array(all.features[(2000 * 6)...]))
            let auc = try BinaryPredictions(probabilities: probabilities, labels: Array(all.labels[2000...])).rocAUC
            #expect(try #require(auc) > 0.85, "\(architecture.kind)")
        }
    }

    @Test func softmaxTrainingLearnsASignal() throws {
        var generator = ChaChaNoiseGenerator(seed: 22)
        let data = LabeledDataset.synthetic(rows: 1500, featureCount: 6, classCount: 4, signal: 8, using: &generator)
        let architecture = try ModelArchitecture.softmaxRegression(inputSize: 6, classes: 4)
        var shuffling = ChaChaNoiseGenerator(seed: 5)
        let result = try MinibatchSGD.train(
            ModelFixtures.network(architecture), on: data,
            configuration: SGDConfiguration(batchSize: 50, epochs: 10, optimizer: .adam(learningRate: 0.05)),
            shuffling: &shuffling)
        let predictions = try MulticlassPredictions(
            probabilities: result.network.predictProbabilities(data.features), classCount: 4, labels: data.labels)
        #expect(predictions.topKAccuracy(1) > 0.5)  // chance is about 0.25
    }

    @Test func fullBatchWithoutNoiseOrClippingIsGradientDescent() throws {
        // q = 1, σ = 0 and a clipping norm no gradient reaches: the DP step's sum / (q·n) is the mean gradient.
        let data = ModelFixtures.data(rows: 40, features: 5)
        let architecture = try ModelArchitecture(inputSize: 5, hiddenSizes: [4], head: .sigmoid)
        let optimizer = Optimizer.sgd(learningRate: 0.3, momentum: 0.2)
        var sampling = ChaChaNoiseGenerator(seed: 1)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 2))
        let dp = try DPSGD.train(
            ModelFixtures.network(architecture), on: data,
            configuration: DPSGDConfiguration(
                noiseMultiplier: 0, clippingNorm: 1e9, expectedBatchSize: 40, epochs: 5, optimizer: optimizer),
            sampling: &sampling, noise: &noise)
        var shuffling = ChaChaNoiseGenerator(seed: 3)
        let plain = try MinibatchSGD.train(
            ModelFixtures.network(architecture), on: data,
            configuration: SGDConfiguration(batchSize: 40, epochs: 5, optimizer: optimizer), shuffling: &shuffling)
        #expect(dp.report.steps == 5 && plain.report.steps == 5)
        for (a, b) in zip(dp.network.parameters, plain.network.parameters) {
            #expect(abs(a - b) < 1e-12 * max(1, abs(b)))
        }
    }

    @Test func epochProgressCountsTheClippedExamples() throws {
        // q = 1 and one step: every example is in the batch once, at the initial parameters, so the
        // clipped share is the share of the examples whose own gradient norm (formed by a batch of one)
        // exceeds C. C between two examples' norms makes it neither 0 nor 1.
        let data = ModelFixtures.data(rows: 40, features: 5)
        let architecture = try ModelArchitecture(inputSize: 5, hiddenSizes: [4], head: .sigmoid)
        let model = ModelFixtures.network(architecture)
        let norms = ModelFixtures.perExampleGradients(model, data).map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }.sorted()
        let between = (norms[25] + norms[26]) / 2
        #expect(norms[25] < norms[26])
        for (clip, expected) in [(between, 14.0 / 40), (norms[39] * 2, 0), (norms[0] / 2, 1)] {
            var progress: [EpochProgress] = []
            var sampling = ChaChaNoiseGenerator(seed: 1)
            var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 2))
            _ = try DPSGD.train(
                model, on: data,
                configuration: DPSGDConfiguration(noiseMultiplier: 1, clippingNorm: clip, expectedBatchSize: 40, epochs: 1),
                sampling: &sampling, noise: &noise, onEpoch: { progress.append($0) })
            #expect(progress.map(\.clippedShare) == [expected])
        }
        var shuffling = ChaChaNoiseGenerator(seed: 3)
        var plain: [EpochProgress] = []
        _ = try MinibatchSGD.train(
            model, on: data, configuration: SGDConfiguration(batchSize: 40, epochs: 1, optimizer: .sgd(learningRate: 0.1)),
            shuffling: &shuffling, onEpoch: { plain.append($0) })
        #expect(plain.map(\.clippedShare) == [nil])
    }

    @Test func poissonSamplerHasTheExpectedBatchSize() {
        let sampler = PoissonSampler(population: 10_000, rate: 0.05)
        var generator = ChaChaNoiseGenerator(seed: 8)
        var batch: [Int] = []
        var total = 0
        for _ in 0..<200 {
            sampler.sample(into: &batch, using: &generator)
            #expect(batch == batch.sorted() && Set(batch).count == batch.count)
            #expect(batch.allSatisfy { (0..<10_000).contains($0) })
            total += batch.count
        }
        // Mean 500 per step; the standard error of the 200-step mean is about 1.5.
        #expect(abs(Double(total) / 200 - 500) < 8)
    }

    @Test func gaussianNoiseHasTheRequestedSpread() {
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 3))
        let draws = (0..<20_000).map { _ in noise.next(standardDeviation: 2) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
        #expect(abs(mean) < 0.06)
        #expect(abs(variance.squareRoot() - 2) < 0.05)
    }

    @Test func badConfigurationIsRejectedByName() throws {
        let data = ModelFixtures.data(rows: 50, features: 5)
        var sampling = ChaChaNoiseGenerator(seed: 1)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 2))
        var configuration = Self.configuration
        configuration.clippingNorm = 0
        #expect { try DPSGD.train(ModelFixtures.network(.logisticRegression(inputSize: 5)), on: data,
                                  configuration: configuration, sampling: &sampling, noise: &noise) }
            throws: { ($0 as? VeilError)?.field == "clippingNorm" }
        #expect { try DPSGD.train(ModelFixtures.network(.logisticRegression(inputSize: 4)), on: data,
                                  configuration: Self.configuration, sampling: &sampling, noise: &noise) }
            throws: { ($0 as? VeilError)?.field == "features" }
    }
}
