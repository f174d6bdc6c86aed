import Foundation

/// The update rule applied to each (noisy, for DP-SGD) averaged gradient.
///
/// Under DP-SGD the optimiser only post-processes privatised gradients, so its choice does not change
/// the privacy guarantee.
public enum Optimizer: Sendable, Hashable, Codable {
    /// `v ← momentum·v + g; θ ← θ − learningRate·v` (heavy-ball; `momentum` 0 is plain SGD).
    case sgd(learningRate: Double, momentum: Double = 0)
    /// Adam (Kingma & Ba 2015) with bias correction.
    case adam(learningRate: Double, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8)

    /// Checks the hyperparameters are in range; returns a message naming the rule when not.
    var problem: String? {
        switch self {
        case .sgd(let rate, let momentum):
            if !(rate > 0 && rate.isFinite) { return "learning rate must be a positive number" }
            if !(0..<1).contains(momentum) { return "momentum must be in [0, 1)" }
        case .adam(let rate, let beta1, let beta2, let epsilon):
            if !(rate > 0 && rate.isFinite) { return "learning rate must be a positive number" }
            if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) { return "Adam betas must be in [0, 1)" }
            if !(epsilon > 0) { return "Adam epsilon must be positive" }
        }
        return nil
    }
}

/// The optimiser's running state (velocity or Adam moments), sized to the parameter vector.
struct OptimizerState {
    let optimizer: Optimizer
    private var first: [Double]
    private var second: [Double]
    private var step = 0

    init(optimizer: Optimizer, parameterCount: Int) {
        self.optimizer = optimizer
        first = [Double](repeating: 0, count: parameterCount)
        if case .adam = optimizer {
            second = [Double](repeating: 0, count: parameterCount)
        } else {
            second = []
        }
    }

    /// Applies one update with gradient `gradient` to `parameters`.
    mutating func apply(gradient: UnsafeBufferPointer<Double>, to parameters: inout [Double]) {
        step += 1
        let count = parameters.count
        let g = gradient.baseAddress!
        switch optimizer {
        case .sgd(let rate, let momentum):
            first.withUnsafeMutableBufferPointer { velocity in
                parameters.withUnsafeMutableBufferPointer { theta in
                    for k in 0..<count {
                        velocity[k] = momentum * velocity[k] + g[k]
                        theta[k] -= rate * velocity[k]
                    }
                }
            }
        case .adam(let rate, let beta1, let beta2, let epsilon):
            let correction1 = 1 - pow(beta1, Double(step))
            let correction2 = 1 - pow(beta2, Double(step))
            let stepSize = rate / correction1
            first.withUnsafeMutableBufferPointer { m in
                second.withUnsafeMutableBufferPointer { v in
                    parameters.withUnsafeMutableBufferPointer { theta in
                        for k in 0..<count {
                            m[k] = beta1 * m[k] + (1 - beta1) * g[k]
                            v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k]
                            theta[k] -= stepSize * m[k] / ((v[k] / correction2).squareRoot() + epsilon)
                        }
                    }
                }
            }
        }
    }
}
