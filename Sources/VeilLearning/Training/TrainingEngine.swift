import VeilCore

/// How a step weighs each example's gradient before summing.
enum ExampleWeighting {
    /// DP-SGD: each example's whole gradient scaled to L2 norm at most `clippingNorm`:
    /// weight min(1, C / ‖g_e‖).
    case clipped(clippingNorm: Double)
    /// Plain SGD: every example by the same factor (1 / batch size).
    case constant(Double)
}

/// The state one training run carries from step to step: the model, its workspace, the step's gradient
/// and the optimiser state. Shared by DP-SGD and plain SGD, which differ only in how examples are
/// weighted and whether noise is added.
struct TrainingEngine<Model: TrainableModel> {
    private(set) var model: Model
    let workspace: Model.Workspace
    /// The parameters in the model's compute precision, refreshed after every update.
    private var computeParameters: [Model.Scalar]
    /// The chunk's weighted gradient sum in the model's precision.
    private var chunkGradient: [Model.Scalar]
    /// The step's gradient (summed, then noised and scaled in place).
    private(set) var gradient: [Double]
    private var optimizerState: OptimizerState

    init(model: Model, optimizer: Optimizer, expectedExamples: Int) {
        self.model = model
        workspace = model.makeWorkspace(examples: expectedExamples)
        computeParameters = model.parameters.map { Model.Scalar($0) }
        chunkGradient = [Model.Scalar](repeating: 0, count: model.parameters.count)
        gradient = [Double](repeating: 0, count: model.parameters.count)
        optimizerState = OptimizerState(optimizer: optimizer, parameterCount: model.parameters.count)
    }

    /// Checks the data fits the model and the optimiser's settings are in range.
    static func validate(_ data: Model.Data, for model: Model, optimizer: Optimizer) throws {
        try model.validate(data)
        if let problem = optimizer.problem { throw VeilError(.invalidInput, field: "optimizer", problem) }
    }

    /// Fills the gradient buffer with Σ_e w_e · ∇loss_e over the examples at `batch` (zero when empty),
    /// w_e as `weighting` says, and returns the batch's summed loss (before the update).
    mutating func computeGradient(batch: [Int], data: Model.Data, weighting: ExampleWeighting) -> Double {
        let model = self.model
        let workspace = self.workspace
        let loss = computeParameters.withUnsafeBufferPointer { parameters in
            batch.withUnsafeBufferPointer { indices in
                model.forwardBackward(indices, data: data, parameters: parameters.baseAddress!, workspace: workspace)
            }
        }
        chunkGradient.withUnsafeMutableBufferPointer { sum in
            sum.update(repeating: 0)
            for example in 0..<batch.count {
                let weight: Double
                switch weighting {
                case .constant(let value):
                    weight = value
                case .clipped(let clippingNorm):
                    let squared = model.squaredGradientNorm(example: example, workspace: workspace)
                    weight = squared > clippingNorm * clippingNorm ? clippingNorm / squared.squareRoot() : 1
                }
                model.addGradient(
                    example: example, weight: Model.Scalar(weight), workspace: workspace, into: sum.baseAddress!)
            }
        }
        for k in gradient.indices { gradient[k] = Double(chunkGradient[k]) }
        return loss
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

    /// Applies the optimiser with the current gradient buffer and refreshes the compute copy.
    mutating func update() {
        gradient.withUnsafeBufferPointer { optimizerState.apply(gradient: $0, to: &model.parameters) }
        for k in computeParameters.indices { computeParameters[k] = Model.Scalar(model.parameters[k]) }
    }
}
