/// Which trainer a run uses: DP-SGD with its settings, or plain minibatch SGD (no privacy). One value
/// the callers build once and hand to any model (`DenseModel`, `SequenceNetwork`).
public enum Trainer: Sendable, Hashable {
    case dpSGD(DPSGDConfiguration)
    case sgd(SGDConfiguration)

    /// Trains `model` on `data` with `DPSGD.train` or `MinibatchSGD.train` (which shuffles with
    /// `sampling`; `noise` is then unused).
    public func train<Model: TrainableModel>(
        _ model: Model, on data: Model.Data, sampling: inout some RandomNumberGenerator, noise: inout some GaussianSource,
        onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> Trained<Model> {
        switch self {
        case .dpSGD(let configuration):
            return try DPSGD.train(model, on: data, configuration: configuration, sampling: &sampling, noise: &noise, onEpoch: onEpoch)
        case .sgd(let configuration):
            return try MinibatchSGD.train(model, on: data, configuration: configuration, shuffling: &sampling, onEpoch: onEpoch)
        }
    }
}
