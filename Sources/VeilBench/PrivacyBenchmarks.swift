import VeilCrypto
import VeilPrivacy

/// Cost of privacy accounting and noise sampling (issue: privacy math).
enum PrivacyBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "privacy.epsilon") {
            // Target < 5 ms: ε for 100,000 DP-SGD steps with the default orders.
            let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 100_000)
            var sink = 0.0
            let seconds = Stopwatch.bestSeconds(repetitions: 20) {
                sink += RDPAccountant.epsilon(composing: [mechanism], delta: 1e-5).epsilon
            }
            blackHole(sink)
            return [BenchResult(name: "privacy.epsilon.100k_steps", value: seconds * 1e3, unit: "ms")]
        },
        Benchmark(name: "privacy.calibration") {
            // Target < 100 ms: the noise multiplier for ε = 3 over 10,000 steps.
            var sink = 0.0
            let seconds = try Stopwatch.bestSeconds(repetitions: 5) {
                sink += try RDPAccountant.calibrateNoiseMultiplier(
                    targetEpsilon: 3, delta: 1e-5, samplingRate: 0.01, steps: 10_000
                ).noiseMultiplier
            }
            blackHole(sink)
            return [BenchResult(name: "privacy.calibration.eps3_10k_steps", value: seconds * 1e3, unit: "ms")]
        },
        Benchmark(name: "privacy.noise") {
            let count = 1_000_000
            var generator = ChaChaNoiseGenerator()
            var sum = 0.0
            let gaussian = Stopwatch.bestSeconds(repetitions: 3) {
                for _ in 0..<count { sum += Noise.gaussian(sigma: 1, using: &generator) }
            }
            var integerSum: Int64 = 0
            let sigmaSquared = PositiveRational(100)
            let discreteGaussian = Stopwatch.bestSeconds(repetitions: 3) {
                for _ in 0..<count { integerSum &+= Noise.discreteGaussian(sigmaSquared: sigmaSquared, using: &generator) }
            }
            let laplaceScale = PositiveRational(10)
            let discreteLaplace = Stopwatch.bestSeconds(repetitions: 3) {
                for _ in 0..<count { integerSum &+= Noise.discreteLaplace(scale: laplaceScale, using: &generator) }
            }
            blackHole(sum)
            blackHole(integerSum)
            return [
                BenchResult(name: "privacy.noise.gaussian", value: Double(count) / gaussian, unit: "samples/s"),
                BenchResult(name: "privacy.noise.discrete_gaussian_sigma10", value: Double(count) / discreteGaussian, unit: "samples/s"),
                BenchResult(name: "privacy.noise.discrete_laplace_scale10", value: Double(count) / discreteLaplace, unit: "samples/s"),
            ]
        },
    ]
}
