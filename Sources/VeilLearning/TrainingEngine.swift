import VeilCore

/// The state one training run carries from step to step: the parameters, the batch workspace, a gradient
/// buffer and the optimiser state. Shared by DP-SGD and plain SGD, which differ only in how rows are
/// weighted and whether noise is added.
struct TrainingEngine {
    private(set) var network: Network
    let workspace: BatchWorkspace
    private(set) var gradient: [Double]
    private var optimizerState: OptimizerState

    init(network: Network, optimizer: Optimizer, expectedRows: Int) {
        self.network = network
        workspace = BatchWorkspace(architecture: network.architecture, capacity: expectedRows)
        gradient = [Double](repeating: 0, count: network.parameters.count)
        optimizerState = OptimizerState(optimizer: optimizer, parameterCount: network.parameters.count)
    }

    /// Checks the data fits the network and the optimiser's settings are in range.
    static func validate(_ data: LabeledDataset, for network: Network, optimizer: Optimizer) throws {
        let architecture = network.architecture
        guard data.featureCount == architecture.inputSize else {
            throw VeilError(
                .invalidInput, field: "features",
                "the model takes \(architecture.inputSize) features per row, the data has \(data.featureCount)")
        }
        guard data.classCount == architecture.classCount else {
            throw VeilError(
                .invalidInput, field: "labels",
                "the model predicts \(architecture.classCount) classes, the data has \(data.classCount)")
        }
        guard data.rowCount > 0 else { throw VeilError(.invalidInput, field: "labels", "the data has no rows") }
        if let problem = optimizer.problem { throw VeilError(.invalidInput, field: "optimizer", problem) }
    }

    /// Loads `batch`, runs forward and backward passes and leaves the per-row signals in the workspace.
    /// Returns the summed loss of the batch (before the update).
    mutating func forwardBackward(batch: [Int], data: LabeledDataset) -> Double {
        let workspace = self.workspace
        batch.withUnsafeBufferPointer { workspace.load(rows: $0, from: data) }
        guard workspace.rows > 0 else { return 0 }
        return network.parameters.withUnsafeBufferPointer { parameters in
            workspace.forward(parameters: parameters.baseAddress!)
            let loss = workspace.computeOutputDeltas()
            workspace.backpropagate(parameters: parameters.baseAddress!)
            return loss
        }
    }

    /// Fills the gradient buffer with Σ_b rowWeights[b] · ∇loss_b over the loaded batch (zero when empty).
    mutating func accumulateGradient() {
        let workspace = self.workspace
        gradient.withUnsafeMutableBufferPointer { gradient in
            if workspace.rows == 0 {
                gradient.update(repeating: 0)
            } else {
                workspace.accumulateGradient(into: gradient)
            }
        }
    }

    /// `gradient[k] = (gradient[k] + noise) · scale` for every parameter, with noise ~ N(0, noiseDeviation²)
    /// drawn once per parameter (skipped when `noiseDeviation` is 0).
    mutating func perturbAndScaleGradient<Noise: GaussianSource>(
        noiseDeviation: Double, scale: Double, noise: inout Noise
    ) {
        gradient.withUnsafeMutableBufferPointer { gradient in
            for k in gradient.indices {
                let perturbation = noiseDeviation > 0 ? noise.next(standardDeviation: noiseDeviation) : 0
                gradient[k] = (gradient[k] + perturbation) * scale
            }
        }
    }

    /// Applies the optimiser with the current gradient buffer.
    mutating func update() {
        gradient.withUnsafeBufferPointer { optimizerState.apply(gradient: $0, to: &network.parameters) }
    }
}
