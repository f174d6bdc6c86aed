import Foundation

/// Loss and output-layer backprop signal for each head, one row at a time.
enum OutputHead {
    /// Binary log loss of one logit against a 0/1 label, and dLoss/dLogit = sigmoid(z) − y.
    /// Uses the stable form `max(z, 0) − y·z + log(1 + e^{−|z|})`.
    @inline(__always)
    static func sigmoidLoss(logit z: Double, label: Int) -> (loss: Double, delta: Double) {
        let y = Double(label)
        let loss = max(z, 0) - y * z + log1p(exp(-abs(z)))
        return (loss, sigmoid(z) - y)
    }

    /// Cross-entropy of `count` logits against class `label`; writes dLoss/dLogit = softmax(z) − onehot(y)
    /// to `delta`.
    @inline(__always)
    static func softmaxLoss(
        logits: UnsafePointer<Double>, count: Int, label: Int, delta: UnsafeMutablePointer<Double>
    ) -> Double {
        let top = maxLogit(logits, count)
        var total = 0.0
        for k in 0..<count {
            let e = exp(logits[k] - top)
            delta[k] = e
            total += e
        }
        let scale = 1 / total
        for k in 0..<count { delta[k] *= scale }
        delta[label] -= 1
        return log(total) + top - logits[label]
    }

    /// Writes softmax(logits) to `probabilities`.
    static func softmax(logits: UnsafePointer<Double>, count: Int, probabilities: UnsafeMutablePointer<Double>) {
        let top = maxLogit(logits, count)
        var total = 0.0
        for k in 0..<count {
            probabilities[k] = exp(logits[k] - top)
            total += probabilities[k]
        }
        for k in 0..<count { probabilities[k] /= total }
    }

    @inline(__always)
    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }

    @inline(__always)
    private static func maxLogit(_ logits: UnsafePointer<Double>, _ count: Int) -> Double {
        var top = logits[0]
        for k in 1..<max(count, 1) where logits[k] > top { top = logits[k] }
        return top
    }
}
