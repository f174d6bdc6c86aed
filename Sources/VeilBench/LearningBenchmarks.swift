import VeilCrypto
import VeilLearning

/// DP-SGD training throughput beside non-private minibatch SGD on the same model and data (issue:
/// learning core). The ratio is DP time per example over non-private time per example, both on every core;
/// `dp_sgd_one_worker` is DP-SGD on one thread, for the speed-up of the second core.
enum LearningBenchmarks {
    static let all: [Benchmark] = [
        trainingBenchmark(name: "learning.mlp64", hiddenSizes: [64]),
        trainingBenchmark(name: "learning.logistic", hiddenSizes: []),
    ]

    static let rows = 50_000
    static let features = 40
    static let batchSize = 512
    static let epochs = 2

    static func trainingBenchmark(name: String, hiddenSizes: [Int]) -> Benchmark {
        Benchmark(name: name) {
            var generator = ChaChaNoiseGenerator(seed: 1)
            let data = LabeledDataset.synthetic(rows: rows, featureCount: features, using: &generator)
            let architecture = try ModelArchitecture(inputSize: features, hiddenSizes: hiddenSizes, head: .sigmoid)
            let network = Network(architecture: architecture, using: &generator)
            let optimizer = Optimizer.sgd(learningRate: 0.1, momentum: 0.9)
            let examples = Double(rows * epochs)

            var sink = 0.0
            /// DP-SGD on `workers` threads (nil: every core).
            func secondsOfDP(workers: Int?) throws -> Double {
                try Stopwatch.bestSeconds(repetitions: 3) {
                    var sampling = ChaChaNoiseGenerator()
                    var noise = GaussianNoise(generator: ChaChaNoiseGenerator())
                    let configuration = DPSGDConfiguration(
                        noiseMultiplier: 1.0, clippingNorm: 1.0, expectedBatchSize: batchSize, epochs: epochs,
                        optimizer: optimizer)
                    let result = try DPSGD.train(
                        network, on: data, configuration: configuration, sampling: &sampling, noise: &noise,
                        workers: workers)
                    sink += result.network.parameters[0]
                }
            }
            let dpSeconds = try secondsOfDP(workers: nil)
            let dpOneWorkerSeconds = try secondsOfDP(workers: 1)
            let sgdSeconds = try Stopwatch.bestSeconds(repetitions: 3) {
                var shuffling = ChaChaNoiseGenerator()
                let configuration = SGDConfiguration(batchSize: batchSize, epochs: epochs, optimizer: optimizer)
                let result = try MinibatchSGD.train(network, on: data, configuration: configuration, shuffling: &shuffling)
                sink += result.network.parameters[0]
            }
            blackHole(sink)
            return [
                BenchResult(name: "\(name).dp_sgd", value: examples / dpSeconds, unit: "examples/s"),
                BenchResult(name: "\(name).dp_sgd_one_worker", value: examples / dpOneWorkerSeconds, unit: "examples/s"),
                BenchResult(name: "\(name).sgd", value: examples / sgdSeconds, unit: "examples/s"),
                BenchResult(name: "\(name).dp_over_sgd_time_ratio", value: dpSeconds / sgdSeconds, unit: "x"),
            ]
        }
    }
}
