import Foundation
import VeilCore

/// Held-out predictions of a binary model — P(label = 1) per example — with their true 0/1 labels, and
/// the metrics computed from them.
public struct BinaryPredictions: Sendable, Equatable {
    public let probabilities: [Double]
    public let labels: [Int]
    private let groups: ScoreGroups

    /// Throws `VeilError.invalidInput` when the arrays differ in length or are empty, a probability is
    /// outside [0, 1] or a label is not 0 or 1.
    public init(probabilities: [Double], labels: [Int]) throws {
        guard !labels.isEmpty, probabilities.count == labels.count else {
            throw VeilError(
                .invalidInput, field: "probabilities", "need one probability per label and at least one label")
        }
        guard probabilities.allSatisfy({ (0...1).contains($0) }) else {
            throw VeilError(.invalidInput, field: "probabilities", "every probability must be in [0, 1]")
        }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else {
            throw VeilError(.invalidInput, field: "labels", "every label must be 0 or 1")
        }
        self.probabilities = probabilities
        self.labels = labels
        groups = ScoreGroups(scores: probabilities, labels: labels)
    }

    public static func == (lhs: BinaryPredictions, rhs: BinaryPredictions) -> Bool {
        lhs.probabilities == rhs.probabilities && lhs.labels == rhs.labels
    }

    /// Area under the ROC curve: the probability that a random positive scores above a random negative,
    /// ties counting ½ (the Mann–Whitney statistic, equal to the average-rank formula
    /// (R₊ − P(P+1)/2) / (P·N)). `nil` when either class is absent.
    public var rocAUC: Double? {
        guard groups.positives > 0, groups.negatives > 0 else { return nil }
        var negativesBelow = groups.negatives
        var wins = 0.0
        for group in groups.groups {
            negativesBelow -= group.negatives
            wins += Double(group.positives) * (Double(negativesBelow) + 0.5 * Double(group.negatives))
        }
        return wins / (Double(groups.positives) * Double(groups.negatives))
    }

    /// A 95 % confidence interval of `rocAUC` by DeLong's method (DeLong, DeLong & Clarke-Pearson 1988):
    /// each positive's placement (the share of negatives it outscores, ties ½) and each negative's (the
    /// share of positives that outscore it) give Var(AUC) = S₁₀/P + S₀₁/N, with S the sample variances;
    /// the interval is AUC ± 1.96·√Var, clipped to [0, 1]. `nil` with fewer than two of either class.
    /// It describes the holdout's sampling error only, not the noise of training.
    public var rocAUCInterval: MetricInterval? {
        let (p, n) = (groups.positives, groups.negatives)
        guard p >= 2, n >= 2, let auc = rocAUC else { return nil }
        var negativesBelow = n, positivesAbove = 0
        var positiveSpread = 0.0, negativeSpread = 0.0
        for group in groups.groups {
            negativesBelow -= group.negatives
            let positivePlacement = (Double(negativesBelow) + 0.5 * Double(group.negatives)) / Double(n)
            let negativePlacement = (Double(positivesAbove) + 0.5 * Double(group.positives)) / Double(p)
            positiveSpread += Double(group.positives) * (positivePlacement - auc) * (positivePlacement - auc)
            negativeSpread += Double(group.negatives) * (negativePlacement - auc) * (negativePlacement - auc)
            positivesAbove += group.positives
        }
        let variance = positiveSpread / Double(p - 1) / Double(p) + negativeSpread / Double(n - 1) / Double(n)
        let half = 1.959963984540054 * variance.squareRoot()
        return MetricInterval(lower: max(0, auc - half), upper: min(1, auc + half))
    }

    /// Average precision, Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the distinct thresholds from high to low (scikit-learn's
    /// `average_precision_score`; no interpolation). `nil` when there are no positives.
    public var averagePrecision: Double? {
        guard groups.positives > 0 else { return nil }
        var truePositives = 0, predicted = 0
        var previousRecall = 0.0, total = 0.0
        for group in groups.groups {
            truePositives += group.positives
            predicted += group.positives + group.negatives
            let recall = Double(truePositives) / Double(groups.positives)
            total += (recall - previousRecall) * Double(truePositives) / Double(predicted)
            previousRecall = recall
        }
        return total
    }

    /// Mean binary log loss, with each probability clamped to [1e-15, 1 − 1e-15] so a confident mistake
    /// costs about 34.5 rather than infinity.
    public var logLoss: Double {
        var total = 0.0
        for (p, y) in zip(probabilities, labels) {
            let clamped = min(max(p, 1e-15), 1 - 1e-15)
            total -= y == 1 ? log(clamped) : log(1 - clamped)
        }
        return total / Double(labels.count)
    }

    /// Accuracy, precision, recall and F1 when probabilities ≥ `threshold` are called positive.
    public func metrics(atThreshold threshold: Double) -> ThresholdMetrics {
        var truePositives = 0, falsePositives = 0
        for (p, y) in zip(probabilities, labels) where p >= threshold {
            if y == 1 { truePositives += 1 } else { falsePositives += 1 }
        }
        return ThresholdMetrics(
            threshold: threshold, truePositives: truePositives, falsePositives: falsePositives,
            positives: groups.positives, total: labels.count)
    }

    /// The metrics at the threshold (one of the observed probabilities) that maximises F1; among equal
    /// F1 the highest threshold wins. Chosen on the same data it is scored on, so it is optimistic:
    /// pick the threshold on validation data and report `metrics(atThreshold:)` on test data.
    public var bestF1: ThresholdMetrics {
        var best = (f1: -1.0, threshold: Double.infinity)
        var truePositives = 0, falsePositives = 0
        for group in groups.groups {
            truePositives += group.positives
            falsePositives += group.negatives
            let falseNegatives = groups.positives - truePositives
            let f1 = truePositives > 0
                ? Double(2 * truePositives) / Double(2 * truePositives + falsePositives + falseNegatives) : 0
            if f1 > best.f1 { best = (f1, group.score) }
        }
        return metrics(atThreshold: best.threshold)
    }

    /// Expected calibration error: probabilities go into `bins` equal-width bins on [0, 1] (1.0 into the
    /// last), and ECE = Σ_bins (count / n) · |mean label − mean probability|.
    public func expectedCalibrationError(bins: Int = 10) -> Double {
        CalibrationBins.error(confidences: probabilities, outcomes: labels.map(Double.init), bins: bins)
    }

    /// Every metric at once.
    public func evaluate() -> BinaryEvaluation {
        BinaryEvaluation(
            exampleCount: labels.count, positiveCount: groups.positives, rocAUC: rocAUC, rocAUCInterval: rocAUCInterval,
            averagePrecision: averagePrecision, logLoss: logLoss, atHalf: metrics(atThreshold: 0.5),
            atBestF1: bestF1, expectedCalibrationError: expectedCalibrationError(), curves: curves())
    }
}

/// The standard report for a binary model on held-out data.
public struct BinaryEvaluation: Sendable, Hashable, Codable {
    public let exampleCount: Int
    public let positiveCount: Int
    public let rocAUC: Double?
    /// 95 % DeLong interval of `rocAUC` on the holdout; nil on cards written before it was stored.
    public let rocAUCInterval: MetricInterval?
    public let averagePrecision: Double?
    public let logLoss: Double
    /// Metrics when probabilities ≥ 0.5 are called positive.
    public let atHalf: ThresholdMetrics
    /// Metrics at the F1-maximising threshold (optimistic; see `BinaryPredictions.bestF1`).
    public let atBestF1: ThresholdMetrics
    /// With 10 equal-width bins.
    public let expectedCalibrationError: Double
    /// ROC, precision–recall and calibration points for plotting; nil on cards written before they were
    /// stored.
    public let curves: BinaryCurves?
}

/// A two-sided confidence interval of a metric.
public struct MetricInterval: Sendable, Hashable, Codable {
    public let lower: Double
    public let upper: Double
}
