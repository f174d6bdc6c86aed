import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

/// Seeded training gives the same parameters, bit for bit, as the code that trained the models users
/// already hold. The fingerprints were recorded from `main` at 665008a (before the layer abstraction);
/// a change here means a seeded run — and so a reproducibility claim — no longer matches.
///
/// Every DP-SGD fingerprint was recorded again once, when the Gaussian sampler became inversion (AS241,
/// one word a draw) instead of Box–Muller: the same seed now draws other noise from the same distribution
/// (docs/models.md, "Decided and done"). The fingerprints before are in the comments of each list; plain
/// SGD draws no noise and did not change.
@Suite struct SeededTrainingGoldenTests {
    /// FNV-1a over the parameters' IEEE bit patterns: any change in any bit changes it.
    static func fingerprint(_ values: [Double]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for value in values {
            var bits = value.bitPattern
            for _ in 0..<8 {
                hash = (hash ^ (bits & 0xff)) &* 0x100_0000_01b3
                bits >>= 8
            }
        }
        return hash
    }

    static func dpRun(
        _ architecture: ModelArchitecture, classes: Int, expectedBatchSize: Int, optimizer: Optimizer,
        population: Int? = nil
    ) throws -> [Double] {
        try dpRun(
            ModelFixtures.network(architecture), classes: classes, expectedBatchSize: expectedBatchSize, optimizer: optimizer,
            population: population)
    }

    static func dpRun<Scalar: ComputeScalar>(
        _ model: DenseNetwork<Scalar>, classes: Int, expectedBatchSize: Int, optimizer: Optimizer, population: Int? = nil
    ) throws -> [Double] {
        let data = ModelFixtures.data(rows: 300, features: model.architecture.inputSize, classes: classes)
        var sampling = ChaChaNoiseGenerator(seed: 9)
        var noise = GaussianNoise(generator: ChaChaNoiseGenerator(seed: 10))
        let configuration = DPSGDConfiguration(
            noiseMultiplier: 1.0, clippingNorm: 0.5, expectedBatchSize: expectedBatchSize, epochs: 3,
            optimizer: optimizer, population: population)
        return try DPSGD.train(
            model, on: data, configuration: configuration, sampling: &sampling, noise: &noise
        ).model.parameters
    }

    static func sgdRun(_ architecture: ModelArchitecture, classes: Int, batchSize: Int) throws -> [Double] {
        let data = ModelFixtures.data(rows: 300, features: 5, classes: classes)
        var shuffling = ChaChaNoiseGenerator(seed: 4)
        return try MinibatchSGD.train(
            ModelFixtures.network(architecture), on: data,
            configuration: SGDConfiguration(batchSize: batchSize, epochs: 3, optimizer: .adam(learningRate: 0.05)),
            shuffling: &shuffling
        ).network.parameters
    }

    /// Fingerprints per architecture of `ModelFixtures.architectures(features: 5)`, in its order. With
    /// Box–Muller noise, `smallBatchDP` was 0x667a6cf7e776a297, 0xd56ecd8d6e83240b, 0xa41b758c27f19d14,
    /// 0x2c992b8323d11e57 and `adamPopulationDP` 0x439006ad91ea59e8, 0x284faecd02a65e4f, 0x498def2eaf8cb744,
    /// 0x491a961f96be8ee4.
    static let smallBatchDP: [UInt64] = [0x665712deb5326e86, 0x85359db75b5e6207, 0xf142e9438ab54625, 0x377399e133e96dc8]
    static let adamPopulationDP: [UInt64] = [0x893c5dce39b390c9, 0x7cedad2ac366c1cb, 0x8a5fabda96551ab2, 0xb17253485db1d332]
    static let sgd: [UInt64] = [0x1e4eb9576f100a25, 0xc2b77f55a1a86bb7, 0x6db9c265c71b7f26, 0xbc9e09d9f7958ee9]
    /// Batches of about 150 rows span three chunks (`DenseModel.chunkSize` 64), whose sums are added in
    /// chunk order since the step runs on both cores: the same terms, added in another order, so these
    /// changed once, when the step went parallel (before: 0xe35652564eb6312d, 0xb50a04ab4298cfa2,
    /// 0x4072bb0da313504b, 0xa53ba70b816a0387). Batches within one chunk (above) did not change. With
    /// Box–Muller noise: 0x99b5b8d611e35c2c, 0x93ea81ccbc8633e7, 0x9a4f5bbbb16ebe31, 0x36fa6f9620d699d4.
    static let largeBatchDP: [UInt64] = [0x6cd1885e2ec0770d, 0x8c69174ab3eb37aa, 0xd7c41088095bdd25, 0xa24ecfe6dbf9c6b7]

    /// The fingerprint of a seeded DP-SGD run for each architecture of `ModelFixtures.architectures`.
    static func dpFingerprints(expectedBatchSize: Int, optimizer: Optimizer, population: Int? = nil) throws -> [UInt64] {
        try ModelFixtures.architectures(features: 5).map { architecture, classes in
            fingerprint(try dpRun(
                architecture, classes: classes, expectedBatchSize: expectedBatchSize, optimizer: optimizer,
                population: population))
        }
    }

    @Test func dpSGDWithSmallBatchesIsUnchanged() throws {
        let found = try Self.dpFingerprints(expectedBatchSize: 32, optimizer: .sgd(learningRate: 0.5, momentum: 0.5))
        #expect(found == Self.smallBatchDP)
    }

    @Test func dpSGDWithAdamAndAPopulationIsUnchanged() throws {
        let found = try Self.dpFingerprints(expectedBatchSize: 40, optimizer: .adam(learningRate: 0.02), population: 400)
        #expect(found == Self.adamPopulationDP)
    }

    @Test func dpSGDWithLargeBatchesIsUnchanged() throws {
        let found = try Self.dpFingerprints(expectedBatchSize: 150, optimizer: .sgd(learningRate: 0.5, momentum: 0.5))
        #expect(found == Self.largeBatchDP)
    }

    /// The same runs as `largeBatchDP` with the passes in `Float` (`DenseNetwork<Float>`, as `veil train`
    /// runs since it trains dense models in `TrainingPrecision`), recorded on the AVX2 path; the SSE2
    /// path (`VEIL_KERNELS=baseline`) gives the same bits. Recorded again once, when the `Float` products
    /// began to fuse each multiply-add (`ProductScalar`; before: 0x02362d9444509600, 0x0cc17d6b0836f5db,
    /// 0x475320f8eb1b4baf, 0xd370e61404d7cc43); the `Double` fingerprints above did not change. With
    /// Box–Muller noise: 0x392e623dc6d300db, 0xc739510656278976, 0x27b041e277ef6da2, 0xcd205d3e835ea999.
    static let floatLargeBatchDP: [UInt64] = [0xcc8bec6fb7e76a95, 0x71e6e32e8b631bf9, 0x929e74e2b8059b10, 0x508efaf0f83fcee9]

    @Test func floatDPSGDWithLargeBatchesIsUnchanged() throws {
        let found = try ModelFixtures.architectures(features: 5).map { architecture, classes in
            Self.fingerprint(try Self.dpRun(
                DenseNetwork<Float>(converting: ModelFixtures.network(architecture)), classes: classes,
                expectedBatchSize: 150, optimizer: .sgd(learningRate: 0.5, momentum: 0.5)))
        }
        #expect(found == Self.floatLargeBatchDP)
    }

    @Test func minibatchSGDIsUnchanged() throws {
        let found = try ModelFixtures.architectures(features: 5).map { architecture, classes in
            Self.fingerprint(try Self.sgdRun(architecture, classes: classes, batchSize: 50))
        }
        #expect(found == Self.sgd)
    }
}
