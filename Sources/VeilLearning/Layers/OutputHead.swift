import Foundation

/// Loss and output-layer backprop signal for each head, one row at a time, in the model's precision
/// (`Scalar.exponential`; for `Double` that is Foundation's `exp`). Losses are returned as `Double`.
enum OutputHead {
    /// Binary log loss of one logit against a 0/1 label, and dLoss/dLogit = sigmoid(z) − y.
    /// Uses the stable form `max(z, 0) − y·z + log(1 + e^{−|z|})`.
    @inline(__always)
    static func sigmoidLoss<Scalar: ComputeScalar>(logit z: Scalar, label: Int) -> (loss: Double, delta: Scalar) {
        let y = Double(label)
        let logit = Double(z)
        let loss = max(logit, 0) - y * logit + log1p(exp(-abs(logit)))
        return (loss, sigmoid(z) - Scalar(label))
    }

    /// Cross-entropy of `count` logits against class `label`; writes dLoss/dLogit = softmax(z) − onehot(y)
    /// to `delta`.
    @inline(__always)
    static func softmaxLoss<Scalar: ComputeScalar>(
        logits: UnsafePointer<Scalar>, count: Int, label: Int, delta: UnsafeMutablePointer<Scalar>
    ) -> Double {
        let top = maxLogit(logits, count)
        var total: Scalar = 0
        for k in 0..<count {
            let e = Scalar.exponential(logits[k] - top)
            delta[k] = e
            total += e
        }
        let scale = 1 / total
        for k in 0..<count { delta[k] *= scale }
        delta[label] -= 1
        return log(Double(total)) + Double(top) - Double(logits[label])
    }

    /// Writes softmax(logits) to `probabilities`.
    static func softmax<Scalar: ComputeScalar>(
        logits: UnsafePointer<Scalar>, count: Int, probabilities: UnsafeMutablePointer<Scalar>
    ) {
        let top = maxLogit(logits, count)
        var total: Scalar = 0
        for k in 0..<count {
            probabilities[k] = Scalar.exponential(logits[k] - top)
            total += probabilities[k]
        }
        for k in 0..<count { probabilities[k] /= total }
    }

    @inline(__always)
    static func sigmoid<Scalar: ComputeScalar>(_ z: Scalar) -> Scalar {
        z >= 0 ? 1 / (1 + Scalar.exponential(-z)) : Scalar.exponential(z) / (1 + Scalar.exponential(z))
    }

    @inline(__always)
    private static func maxLogit<Scalar: ComputeScalar>(_ logits: UnsafePointer<Scalar>, _ count: Int) -> Scalar {
        var top = logits[0]
        for k in 1..<max(count, 1) where logits[k] > top { top = logits[k] }
        return top
    }
}
