/// What a training run did, in the terms the privacy accountant and the model registry need.
///
/// It holds hyperparameters only — no loss or other statistic of the training data — so it can travel
/// with a model. The example count (and so the sampling rate) is treated as public, as Opacus and
/// TF Privacy do.
public struct TrainingReport: Sendable, Hashable, Codable {
    public enum Mechanism: String, Sendable, Codable {
        /// DP-SGD: Poisson sampling, per-example clipping, Gaussian noise.
        case dpSGD = "dp_sgd"
        /// Plain shuffled minibatch SGD, for comparison only: no privacy guarantee.
        case sgd = "sgd"
    }

    public let mechanism: Mechanism
    public let exampleCount: Int
    public let epochs: Int
    /// Optimiser steps taken; for DP-SGD, the number of compositions of the subsampled Gaussian.
    public let steps: Int
    /// The expected batch size (DP-SGD) or the fixed batch size (SGD).
    public let batchSize: Int
    /// q: each example's probability of joining a step's batch (DP-SGD); batchSize / exampleCount for SGD.
    public let samplingRate: Double
    /// σ: the noise standard deviation divided by the clipping norm (DP-SGD only).
    public let noiseMultiplier: Double?
    /// C: the bound on each example's gradient norm (DP-SGD only).
    public let clippingNorm: Double?
    public let optimizer: Optimizer
}

/// Progress after each epoch, for a terminal display.
///
/// `meanLoss` is the mean loss of the examples seen during the epoch, before each step's update. It is a
/// statistic of the private training data and is *not* differentially private: show it to the operator,
/// never release or store it.
public struct EpochProgress: Sendable, Hashable {
    /// 1-based.
    public let epoch: Int
    public let meanLoss: Double
    /// DP-SGD: the share of the epoch's sampled examples whose gradient norm exceeded the clipping norm
    /// C and was scaled down to it (nil for plain SGD). Near 1, C binds for almost every user and
    /// each one's update is its gradient's direction only; near 0, C is loose and the noise, scaled
    /// to C, is larger than it needs to be. Computed on the private data like `meanLoss`: for a
    /// terminal, never released or stored.
    public let clippedShare: Double?
    /// Steps taken so far in the whole run.
    public let steps: Int
}

/// A trained model and the report that describes how it was trained.
public struct Trained<Model: TrainableModel>: Sendable {
    public let model: Model
    public let report: TrainingReport
}

extension Trained: Equatable where Model: Equatable {}

/// A trained dense model, under the names callers used before models were generic.
public typealias TrainingResult = Trained<DenseModel>

extension Trained where Model == DenseModel {
    public var network: DenseModel { model }
}
