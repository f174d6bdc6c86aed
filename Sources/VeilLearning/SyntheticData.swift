import Foundation

extension LabeledDataset {
    /// A synthetic dataset for tests and benchmarks — not for anything users see.
    ///
    /// Features are uniform in [0, 1]. Labels come from a hidden linear model with weights uniform in
    /// ±`signal`: for two classes y ~ Bernoulli(sigmoid(w·(x − ½))); for K classes y ~ softmax(W(x − ½)).
    /// Deterministic given the generator.
    public static func synthetic<Generator: RandomNumberGenerator>(
        rows: Int, featureCount: Int, classCount: Int = 2, signal: Double = 3,
        using generator: inout Generator
    ) -> LabeledDataset {
        let outputs = classCount == 2 ? 1 : classCount
        let weights = (0..<(outputs * featureCount)).map { _ in (2 * generator.unitInterval() - 1) * signal }
        var features = [Double](repeating: 0, count: rows * featureCount)
        var labels = [Int](repeating: 0, count: rows)
        var logits = [Double](repeating: 0, count: outputs)
        for row in 0..<rows {
            for j in 0..<featureCount { features[row * featureCount + j] = generator.unitInterval() }
            for k in 0..<outputs {
                var z = 0.0
                for j in 0..<featureCount { z += weights[k * featureCount + j] * (features[row * featureCount + j] - 0.5) }
                logits[k] = z
            }
            let u = generator.unitInterval()
            if classCount == 2 {
                labels[row] = u < 1 / (1 + exp(-logits[0])) ? 1 : 0
            } else {
                let top = logits.max()!
                let exps = logits.map { exp($0 - top) }
                var threshold = u * exps.reduce(0, +)
                var label = classCount - 1
                for (k, e) in exps.enumerated() {
                    threshold -= e
                    if threshold < 0 { label = k; break }
                }
                labels[row] = label
            }
        }
        // The shapes above are consistent by construction.
        return try! LabeledDataset(features: features, featureCount: featureCount, labels: labels, classCount: classCount)
    }
}
