import Testing
import VeilCore
import VeilCrypto
import VeilPrivacy
@testable import VeilLearning

/// The one-run audit has teeth: on Veil's DP-SGD with σ calibrated by the PLD accountant for a
/// claimed ε of 2 or 4 (δ = 1e-5) it finds a lower bound at most the claim, and on each broken
/// variant — clipping disabled, noise off, σ scaled down tenfold — a bound above the claim.
///
/// Design (fixed seeds): 1,000 logistic-regression examples and m canaries — 1,000 for ε = 2, 2,000
/// for ε = 4 — so n = 2,000 or 3,000, B = 100, 10 epochs (200 or 300 steps), Adam; k = m/5 guesses
/// per side. All r = 400 right gives ε ≥ 4.86 at 95 %, all 800 right 5.53 (`OneRunAuditBoundTests`'
/// reference), so a broken run has room above its claim. A canary drawn in is sampled about 10 times
/// (sd 3): with σ/10 its score is about 10·C/B against noise of sd √T·σC/(10B) (below 1.5·C/B);
/// with σ as calibrated the two overlap, as DP promises.
@Suite struct OneRunAuditTests {
    static let delta = 1e-5

    /// The audited run: σ calibrated by the PLD accountant for (q, steps) at `claimedEpsilon`.
    static func audit(claimedEpsilon: Double, fault: DPSGDFault?, seed: UInt64 = 11) throws -> OneRunAuditResult {
        let settings = OneRunAuditSettings(canaries: claimedEpsilon > 2 ? 2_000 : 1_000, delta: delta)
        var generator = ChaChaNoiseGenerator(seed: 5)
        let data = LabeledDataset.synthetic(rows: 1_000, featureCount: 6, using: &generator)
        let model = DenseModel(architecture: try .logisticRegression(inputSize: 6), using: &generator)
        let population = OneRunAudit.population(examples: data.rowCount, settings: settings)
        var configuration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: 1, expectedBatchSize: 100, epochs: 10,
            optimizer: .adam(learningRate: 0.02), population: population)
        configuration.noiseMultiplier = try NoiseCalibration.calibrate(
            targetEpsilon: claimedEpsilon, delta: delta, samplingRate: configuration.samplingRate(exampleCount: data.rowCount),
            steps: configuration.steps(exampleCount: data.rowCount), method: .pld(PLDParameters())
        ).noiseMultiplier
        var inclusion = ChaChaNoiseGenerator(seed: seed)
        var sampling = ChaChaNoiseGenerator(seed: seed &+ 1)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: seed &+ 2))
        let result = try OneRunAudit.run(
            model, on: data, configuration: configuration, settings: settings, inclusion: &inclusion,
            sampling: &sampling, noise: &noise, fault: fault)
        print(
            "audit ε claimed \(claimedEpsilon) σ \(configuration.noiseMultiplier) fault \(fault.map { "\($0)" } ?? "none"): "
                + "\(result.correctGuesses)/\(result.guesses) right, lower bound \(result.epsilonLowerBound)")
        return result
    }

    @Test(arguments: [2.0, 4.0])
    func correctDPSGDStaysAtOrBelowTheClaim(claimedEpsilon: Double) throws {
        let result = try Self.audit(claimedEpsilon: claimedEpsilon, fault: nil)
        let canaries = claimedEpsilon > 2 ? 2_000 : 1_000
        #expect(result.steps == 10 * (1_000 + canaries) / 100)
        #expect(result.samplingRate == 100 / Double(1_000 + canaries))
        #expect(result.guesses == 2 * canaries / 5)
        #expect(result.epsilonLowerBound <= claimedEpsilon)
        // Better than chance (the canaries do leak, within the claim), far from all right.
        #expect(result.correctGuesses > result.guesses / 2 && result.correctGuesses < result.guesses * 95 / 100)
    }

    @Test(arguments: [2.0, 4.0], [DPSGDFault.clippingDisabled, .noiseOff, .noiseScaled(factor: 0.1)])
    func brokenDPSGDExceedsTheClaim(claimedEpsilon: Double, fault: DPSGDFault) throws {
        let result = try Self.audit(claimedEpsilon: claimedEpsilon, fault: fault)
        #expect(result.epsilonLowerBound > claimedEpsilon + 0.5, "\(fault): \(result.correctGuesses)/\(result.guesses) right")
    }

    /// Canaries drawn in are about half, and the guesses are the top and bottom k of the scores.
    @Test func canariesAreDrawnWithProbabilityOneHalf() throws {
        let result = try Self.audit(claimedEpsilon: 2, fault: .noiseOff)
        #expect(abs(result.includedCanaries - 500) < 60)  // 3.8 sd of Binomial(1000, ½)
        #expect(result.correctGuesses == 400)
    }

    @Test func populationMustCountEveryCanary() throws {
        var generator = ChaChaNoiseGenerator(seed: 5)
        let data = LabeledDataset.synthetic(rows: 100, featureCount: 3, using: &generator)
        let model = DenseModel(architecture: try .logisticRegression(inputSize: 3), using: &generator)
        let configuration = DPSGDConfiguration(noiseMultiplier: 1, clippingNorm: 1, expectedBatchSize: 10, epochs: 1, population: 100)
        var (inclusion, sampling) = (ChaChaNoiseGenerator(seed: 1), ChaChaNoiseGenerator(seed: 2))
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 3))
        #expect(throws: VeilError.self) {
            try OneRunAudit.run(
                model, on: data, configuration: configuration, settings: OneRunAuditSettings(canaries: 100, delta: 1e-5),
                inclusion: &inclusion, sampling: &sampling, noise: &noise)
        }
    }

    /// A canary's coordinate moves only by its own gradient, clipped to C: with noise off and plain SGD,
    /// one step over every example (q = 1) moves each drawn-in canary by lr·C/B and leaves the others
    /// and the base model's training as without canaries.
    @Test func canaryCoordinatesCarryOnlyTheirOwnClippedGradient() throws {
        var generator = ChaChaNoiseGenerator(seed: 5)
        let data = LabeledDataset.synthetic(rows: 20, featureCount: 3, using: &generator)
        let model = DenseModel(architecture: try .logisticRegression(inputSize: 3), using: &generator)
        let included = [1, 4, 6]
        let canaryModel = CanaryModel(base: model, canaryCount: 8, gradientNorm: 50)
        let canaryData = CanaryData(base: data, includedCanaries: included)
        let configuration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: 2, expectedBatchSize: 23, epochs: 1, optimizer: .sgd(learningRate: 0.5))
        var sampling = ChaChaNoiseGenerator(seed: 1)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 2))
        let trained = try DPSGD.train(
            canaryModel, on: canaryData, configuration: configuration, sampling: &sampling, noise: &noise, fault: .noiseOff)
        for canary in 0..<8 {
            let expected = included.contains(canary) ? 0.5 * 2 / 23 : 0
            #expect(abs(trained.model.canaryParameter(canary) - expected) < 1e-15)
        }
        // The base model's gradient is its own: the same step without canaries, with the same 1/B.
        let baseConfiguration = DPSGDConfiguration(
            noiseMultiplier: 1, clippingNorm: 2, expectedBatchSize: 23, epochs: 1, optimizer: .sgd(learningRate: 0.5),
            population: 23)
        let alone = try DPSGD.train(
            model, on: data, configuration: baseConfiguration, sampling: &sampling, noise: &noise, fault: .noiseOff)
        #expect(trained.model.trainedBase.parameters == alone.model.parameters)
        #expect(alone.model.parameters != model.parameters)
    }
}
