import VeilCore

/// Settings for plain (non-private) minibatch training.
public struct SGDConfiguration: Sendable, Hashable, Codable {
    public var batchSize: Int
    public var epochs: Int
    public var optimizer: Optimizer

    public init(batchSize: Int, epochs: Int, optimizer: Optimizer = .sgd(learningRate: 0.1, momentum: 0.9)) {
        self.batchSize = batchSize
        self.epochs = epochs
        self.optimizer = optimizer
    }
}

/// Non-private minibatch SGD: each epoch shuffles the rows and walks them in batches of `batchSize` (the
/// last may be smaller), stepping along the batch's mean gradient. For comparison with DP-SGD only — the
/// result carries no privacy guarantee and must not be released as private.
public enum MinibatchSGD {
    /// Trains `model` on `data`, shuffling with `shuffling`; deterministic given its state, on any number
    /// of `workers` (default: every core).
    /// Throws `VeilError.invalidInput` when the configuration or data does not fit.
    public static func train<Model: TrainableModel, Shuffling: RandomNumberGenerator>(
        _ model: Model, on data: Model.Data, configuration: SGDConfiguration,
        shuffling: inout Shuffling, workers: Int? = nil, onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> Trained<Model> {
        try TrainingEngine.validate(data, for: model, optimizer: configuration.optimizer)
        guard configuration.batchSize >= 1 else {
            throw VeilError(.invalidInput, field: "batchSize", "must be at least 1")
        }
        guard configuration.epochs >= 1 else { throw VeilError(.invalidInput, field: "epochs", "must be at least 1") }
        let n = data.exampleCount
        let batchSize = min(configuration.batchSize, n)
        var engine = TrainingEngine(
            model: model, optimizer: configuration.optimizer, expectedExamples: batchSize, workers: workers)
        var order = Array(0..<n)
        var batch: [Int] = []
        batch.reserveCapacity(batchSize)
        var steps = 0
        for epoch in 1...configuration.epochs {
            shuffle(&order, using: &shuffling)
            var lossSum = 0.0
            for start in stride(from: 0, to: n, by: batchSize) {
                batch.removeAll(keepingCapacity: true)
                batch.append(contentsOf: order[start..<min(start + batchSize, n)])
                lossSum += engine.computeGradient(batch: batch, data: data, weighting: .constant(1 / Double(batch.count)))
                engine.update()
                steps += 1
            }
            onEpoch(EpochProgress(epoch: epoch, meanLoss: lossSum / Double(n), clippedShare: nil, steps: steps))
        }
        let report = TrainingReport(
            mechanism: .sgd, exampleCount: n, epochs: configuration.epochs, steps: steps, batchSize: batchSize,
            samplingRate: Double(batchSize) / Double(n), noiseMultiplier: nil, clippingNorm: nil,
            optimizer: configuration.optimizer)
        return Trained(model: engine.model, report: report)
    }

    /// Fisher–Yates with `next(upperBound:)`, so the order depends only on the generator.
    static func shuffle<Generator: RandomNumberGenerator>(_ values: inout [Int], using generator: inout Generator) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = Int(generator.next(upperBound: UInt64(i + 1)))
            values.swapAt(i, j)
        }
    }
}
