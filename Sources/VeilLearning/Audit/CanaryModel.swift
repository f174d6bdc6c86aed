import VeilCore

/// A model with gradient canaries for the one-run privacy audit: the base model's parameters followed
/// by one coordinate per canary, and training data of the base's examples followed by the canaries
/// drawn into the run.
///
/// Canary `c`'s gradient is `−gradientNorm · e_c` whatever the parameters — a *Dirac canary*
/// (Steinke, Nasr & Jagielski 2023, white-box auditing): the strongest example
/// DP-SGD's guarantee covers, since the guarantee holds for any per-example gradient. It touches only
/// its own coordinate, so a canary's coordinate moves only by its own clipped gradient, the step's
/// noise and the optimiser; and no base example touches it. With `gradientNorm` above the clipping
/// norm, a correct run clips it to C, and a run that fails to clip shows it at full size.
///
/// Examples `0 ..< base.exampleCount` are the base model's, with its gradients and loss; the canaries'
/// loss is 0. Everything DP-SGD does — Poisson sampling, the norm of every example's gradient and its
/// clipping, the noise on every coordinate, the scaling and the optimiser — is DP-SGD's own.
struct CanaryModel<Base: TrainableModel>: TrainableModel {
    typealias Data = CanaryData<Base.Data>
    typealias Scalar = Base.Scalar

    let base: Base
    /// How many canary coordinates follow the base's parameters (every canary, drawn in or not).
    let canaryCount: Int
    /// The norm of each canary's gradient, before clipping.
    let gradientNorm: Double
    var parameters: [Double]

    /// The base model with `canaryCount` canary coordinates, each starting at 0.
    init(base: Base, canaryCount: Int, gradientNorm: Double) {
        self.base = base
        self.canaryCount = canaryCount
        self.gradientNorm = gradientNorm
        parameters = base.parameters + [Double](repeating: 0, count: canaryCount)
    }

    /// The base model's part of `parameters`.
    var trainedBase: Base {
        var model = base
        model.parameters = Array(parameters[0..<base.parameters.count])
        return model
    }

    /// Canary `c`'s coordinate.
    func canaryParameter(_ canary: Int) -> Double { parameters[base.parameters.count + canary] }

    var chunkSize: Int { base.chunkSize }

    func validate(_ data: Data) throws {
        try base.validate(data.base)
        guard data.includedCanaries.allSatisfy({ (0..<canaryCount).contains($0) }) else {
            throw VeilError(.invalidInput, field: "canaries", "every included canary must have a coordinate")
        }
    }

    func makeWorkspace(examples: Int) -> CanaryWorkspace<Base> {
        CanaryWorkspace(base: base.makeWorkspace(examples: examples))
    }

    func forwardBackward(
        _ indices: UnsafeBufferPointer<Int>, data: Data, parameters: UnsafePointer<Scalar>, workspace: CanaryWorkspace<Base>
    ) -> Double {
        let baseCount = data.base.exampleCount
        workspace.baseIndices.removeAll(keepingCapacity: true)
        workspace.roles.removeAll(keepingCapacity: true)
        for index in indices {
            if index < baseCount {
                workspace.roles.append(.base(position: workspace.baseIndices.count))
                workspace.baseIndices.append(index)
            } else {
                workspace.roles.append(.canary(data.includedCanaries[index - baseCount]))
            }
        }
        guard !workspace.baseIndices.isEmpty else { return 0 }
        return workspace.baseIndices.withUnsafeBufferPointer {
            base.forwardBackward($0, data: data.base, parameters: parameters, workspace: workspace.base)
        }
    }

    func squaredGradientNorm(example: Int, workspace: CanaryWorkspace<Base>) -> Double {
        switch workspace.roles[example] {
        case .base(let position): base.squaredGradientNorm(example: position, workspace: workspace.base)
        case .canary: gradientNorm * gradientNorm
        }
    }

    func addGradient(example: Int, weight: Double, workspace: CanaryWorkspace<Base>, into gradient: UnsafeMutablePointer<Scalar>) {
        switch workspace.roles[example] {
        case .base(let position):
            base.addGradient(example: position, weight: weight, workspace: workspace.base, into: gradient)
        case .canary(let canary):
            gradient[base.parameters.count + canary] -= Scalar(weight * gradientNorm)
        }
    }

    func addChunkGradient(weights: UnsafePointer<Double>, workspace: CanaryWorkspace<Base>, into gradient: UnsafeMutablePointer<Scalar>) {
        guard !workspace.baseIndices.isEmpty else { return }
        // The base's examples' weights, in the base's chunk order.
        workspace.baseWeights.removeAll(keepingCapacity: true)
        for (example, role) in workspace.roles.enumerated() where role.isBase { workspace.baseWeights.append(weights[example]) }
        workspace.baseWeights.withUnsafeBufferPointer {
            base.addChunkGradient(weights: $0.baseAddress!, workspace: workspace.base, into: gradient)
        }
    }
}

/// The base model's examples and the canaries drawn into the run.
struct CanaryData<Base: TrainingData>: TrainingData {
    let base: Base
    /// The canaries in the data, by canary number; example `base.exampleCount + k` is canary
    /// `includedCanaries[k]`.
    let includedCanaries: [Int]

    var exampleCount: Int { base.exampleCount + includedCanaries.count }
}

/// One worker's buffers: the base model's workspace and what each position of the loaded chunk is.
final class CanaryWorkspace<Base: TrainableModel> {
    enum Role {
        /// A base example, at `position` of the base's chunk.
        case base(position: Int)
        case canary(Int)

        var isBase: Bool {
            if case .base = self { return true }
            return false
        }
    }

    let base: Base.Workspace
    var roles: [Role] = []
    var baseIndices: [Int] = []
    var baseWeights: [Double] = []

    init(base: Base.Workspace) {
        self.base = base
    }
}
