import Foundation
import VeilCore

/// Held-out predictions of a K-class model — K probabilities per example, row-major — with the true class
/// indices, and the metrics computed from them.
///
/// Classes are ranked by probability, highest first, ties broken towards the lower class index (so top-1
/// is the arg-max with the lowest index winning).
public struct MulticlassPredictions: Sendable, Equatable {
    public let probabilities: [Double]
    public let classCount: Int
    public let labels: [Int]

    /// Throws `VeilError.invalidInput` when shapes disagree, there are no examples, a probability is
    /// outside [0, 1] or a label is outside `0..<classCount`.
    public init(probabilities: [Double], classCount: Int, labels: [Int]) throws {
        guard classCount >= 2 else { throw VeilError(.invalidInput, field: "classCount", "must be at least 2") }
        guard !labels.isEmpty, probabilities.count == labels.count * classCount else {
            throw VeilError(
                .invalidInput, field: "probabilities",
                "need classCount probabilities per label and at least one label")
        }
        guard probabilities.allSatisfy({ (0...1).contains($0) }) else {
            throw VeilError(.invalidInput, field: "probabilities", "every probability must be in [0, 1]")
        }
        guard labels.allSatisfy({ (0..<classCount).contains($0) }) else {
            throw VeilError(.invalidInput, field: "labels", "every label must be in 0..<\(classCount)")
        }
        self.probabilities = probabilities
        self.classCount = classCount
        self.labels = labels
    }

    /// The true class's 0-based position in the example's ranking.
    private func rankOfLabel(_ example: Int) -> Int {
        let base = example * classCount
        let label = labels[example]
        let target = probabilities[base + label]
        var rank = 0
        for k in 0..<classCount {
            let p = probabilities[base + k]
            if p > target || (p == target && k < label) { rank += 1 }
        }
        return rank
    }

    /// The top-ranked class of `example` and the 0-based rank of its true class.
    func topAndRankOfLabel(_ example: Int) -> (top: Int, rank: Int) {
        let base = example * classCount
        var top = 0
        for k in 1..<classCount where probabilities[base + k] > probabilities[base + top] { top = k }
        return (top, rankOfLabel(example))
    }

    /// Share of examples whose true class is among the `k` top-ranked classes.
    public func topKAccuracy(_ k: Int) -> Double {
        let hits = labels.indices.reduce(0) { $0 + (rankOfLabel($1) < k ? 1 : 0) }
        return Double(hits) / Double(labels.count)
    }

    /// Mean −log p(true class), p clamped to ≥ 1e-15.
    public var crossEntropy: Double {
        var total = 0.0
        for (example, label) in labels.enumerated() {
            total -= log(max(probabilities[example * classCount + label], 1e-15))
        }
        return total / Double(labels.count)
    }

    /// Top-label ECE: confidence = the top-ranked class's probability, outcome = whether it is the true
    /// class, over `bins` equal-width bins.
    public func expectedCalibrationError(bins: Int = 10) -> Double {
        var confidences: [Double] = []
        var outcomes: [Double] = []
        confidences.reserveCapacity(labels.count)
        outcomes.reserveCapacity(labels.count)
        for example in labels.indices {
            let top = topAndRankOfLabel(example).top
            confidences.append(probabilities[example * classCount + top])
            outcomes.append(top == labels[example] ? 1 : 0)
        }
        return CalibrationBins.error(confidences: confidences, outcomes: outcomes, bins: bins)
    }

    /// Every metric at once.
    public func evaluate() -> MulticlassEvaluation {
        MulticlassEvaluation(
            exampleCount: labels.count, classCount: classCount, top1Accuracy: topKAccuracy(1),
            top3Accuracy: topKAccuracy(3), crossEntropy: crossEntropy,
            expectedCalibrationError: expectedCalibrationError())
    }
}

/// The standard report for a K-class model on held-out data.
public struct MulticlassEvaluation: Sendable, Hashable, Codable {
    public let exampleCount: Int
    public let classCount: Int
    public let top1Accuracy: Double
    public let top3Accuracy: Double
    public let crossEntropy: Double
    /// Top-label ECE with 10 equal-width bins.
    public let expectedCalibrationError: Double
}
