import Foundation
import VeilCore

/// Holdout predictions reduced to counts over public cells, fixed before any data is seen, such that
/// each holdout example adds 1 to exactly one cell. A holdout example is one user (training reads one
/// example per user), so adding or removing a user changes one count by 1: L1 and L2 sensitivity 1,
/// which is what `PrivateEvaluation` calibrates its noise to. Every metric here is computed from the
/// counts alone, so on noisy counts it is post-processing of the noisy release.
///
/// Layouts (bins are equal-width on [0, 1], a probability p in bin `min(⌊p·bins⌋, bins − 1)`):
/// - `binary`: cell `label · bins + bin(p)` for the score p = P(label 1): a histogram of the scores
///   of each class. Gives ROC AUC, average precision, calibration, and the confusion counts at every
///   bin edge (0.5 among them when `bins` is even).
/// - `topLabel`: cell `bin(confidence) · 4 + rank`, with confidence the top-ranked class's
///   probability and rank the true class's position in the ranking (0, 1, 2, or 3 for anything
///   lower). Gives top-1 and top-3 accuracy and top-label calibration.
///
/// Metrics take the counts as they are, negative ones too (noise can make a count negative, and
/// clamping it at 0 would bias every sum upwards by about 0.4σ per empty cell); a ratio is clamped to
/// [0, 1] only at the end. A metric whose denominator is not positive (no positives, no examples) is nil.
public struct HoldoutHistogram: Sendable, Hashable {
    public enum Layout: Sendable, Hashable {
        case binary(bins: Int)
        case topLabel(bins: Int)

        /// The layout a card names (`PrivateEvaluation.histogram`) with its `bins`; nil for a name this
        /// version does not know or fewer than one bin.
        public init?(name: String, bins: Int) {
            guard bins >= 1 else { return nil }
            switch name {
            case "binary_score_histogram": self = .binary(bins: bins)
            case "top_label_histogram": self = .topLabel(bins: bins)
            default: return nil
            }
        }

        /// `binary_score_histogram` or `top_label_histogram`, as cards name the layout.
        public var name: String {
            switch self {
            case .binary: "binary_score_histogram"
            case .topLabel: "top_label_histogram"
            }
        }

        /// The number of score (binary) or confidence (top-label) bins.
        public var bins: Int {
            switch self {
            case let .binary(bins), let .topLabel(bins): bins
            }
        }

        /// The number of cells.
        public var cellCount: Int {
            switch self {
            case let .binary(bins): 2 * bins
            case let .topLabel(bins): 4 * bins
            }
        }

        /// The names of the metrics `HoldoutHistogram.metrics` computes, in its order.
        public var metricNames: [String] {
            switch self {
            case .binary:
                [
                    "example_count", "positive_count", "roc_auc", "average_precision", "expected_calibration_error",
                    "accuracy_at_half", "precision_at_half", "recall_at_half", "f1_at_half",
                ]
            case .topLabel: ["example_count", "top1_accuracy", "top3_accuracy", "expected_calibration_error"]
            }
        }
    }

    /// Equal-width score bins of the binary layout (0.5 is an edge; calibration uses pairs of them).
    public static let binaryBins = 20
    /// Equal-width confidence bins of the top-label layout (the calibration bins).
    public static let topLabelBins = 10
    /// The rank cells of the top-label layout: 0, 1, 2 and "3 or lower".
    static let rankCells = 4

    public let layout: Layout
    /// One count per cell (may be negative after noise).
    public var counts: [Int]

    public init(layout: Layout, counts: [Int]) {
        precondition(counts.count == layout.cellCount, "one count per cell")
        self.layout = layout
        self.counts = counts
    }

    static func bin(_ probability: Double, bins: Int) -> Int {
        min(max(Int(probability * Double(bins)), 0), bins - 1)
    }

    /// The binary histogram of `predictions` over `bins` score bins.
    public init(_ predictions: BinaryPredictions, bins: Int = binaryBins) {
        var counts = [Int](repeating: 0, count: 2 * bins)
        for (p, label) in zip(predictions.probabilities, predictions.labels) {
            counts[label * bins + Self.bin(p, bins: bins)] += 1
        }
        self.init(layout: .binary(bins: bins), counts: counts)
    }

    /// The top-label histogram of `predictions` over `bins` confidence bins.
    public init(_ predictions: MulticlassPredictions, bins: Int = topLabelBins) {
        var counts = [Int](repeating: 0, count: Self.rankCells * bins)
        for example in predictions.labels.indices {
            let (top, rank) = predictions.topAndRankOfLabel(example)
            let confidence = predictions.probabilities[example * predictions.classCount + top]
            counts[Self.bin(confidence, bins: bins) * Self.rankCells + min(rank, Self.rankCells - 1)] += 1
        }
        self.init(layout: .topLabel(bins: bins), counts: counts)
    }

    /// The metrics named by `layout.metricNames`, in that order.
    public var metrics: [Double?] {
        switch layout {
        case let .binary(bins): return Self.binaryMetrics(counts, bins: bins)
        case let .topLabel(bins): return Self.topLabelMetrics(counts, bins: bins)
        }
    }

    /// `value` clamped to [0, 1].
    private static func unit(_ value: Double) -> Double { min(max(value, 0), 1) }

    /// The calibration bins of the binary layout: 10 equal-width groups of adjacent score bins.
    public static let binaryCalibrationGroups = 10

    /// The score bins (of `bins`) that calibration group `group` (of `binaryCalibrationGroups`) joins.
    static func calibrationGroup(_ group: Int, bins: Int) -> Range<Int> {
        (group * bins / binaryCalibrationGroups)..<((group + 1) * bins / binaryCalibrationGroups)
    }

    /// Binary metrics from per-class score histograms. Scores within one bin are ties (ROC AUC counts
    /// them ½, average precision treats the bin as one threshold), so these are the metrics of the
    /// binned scores; calibration compares each pair of bins' positive count with its examples times the
    /// pair's midpoint (so it is within half a calibration bin, 0.05, of the unbinned ECE).
    static func binaryMetrics(_ counts: [Int], bins: Int) -> [Double?] {
        let negatives = Array(counts[0..<bins])
        let positives = Array(counts[bins..<(2 * bins)])
        let (p, n) = (positives.reduce(0, +), negatives.reduce(0, +))
        let total = p + n
        guard total > 0 else { return [Double(total), Double(p), nil, nil, nil, nil, nil, nil, nil] }

        var auc: Double?
        if p > 0 && n > 0 {
            var below = 0.0
            var wins = 0.0
            for bin in 0..<bins {
                wins += Double(positives[bin]) * (below + 0.5 * Double(negatives[bin]))
                below += Double(negatives[bin])
            }
            auc = unit(wins / (Double(p) * Double(n)))
        }

        // Average precision over the bins from the top; a bin adds nothing where nothing is predicted
        // up to it (a noisy cumulative count ≤ 0), and precision is clamped to [0, 1].
        var precision: Double?
        if p > 0 {
            var (truePositives, predicted) = (0, 0)
            var (previousRecall, sum) = (0.0, 0.0)
            for bin in stride(from: bins - 1, through: 0, by: -1) {
                truePositives += positives[bin]
                predicted += positives[bin] + negatives[bin]
                guard predicted > 0 else { continue }
                let recall = Double(truePositives) / Double(p)
                sum += (recall - previousRecall) * unit(Double(truePositives) / Double(predicted))
                previousRecall = recall
            }
            precision = unit(sum)
        }

        var calibration = 0.0
        for group in 0..<binaryCalibrationGroups {
            let range = calibrationGroup(group, bins: bins)
            let examples = range.reduce(0) { $0 + positives[$1] + negatives[$1] }
            let hits = range.reduce(0) { $0 + positives[$1] }
            let midpoint = (Double(group) + 0.5) / Double(binaryCalibrationGroups)
            calibration += abs(Double(hits) - Double(examples) * midpoint)
        }

        let half = bins / 2
        let truePositives = positives[half...].reduce(0, +)
        let falsePositives = negatives[half...].reduce(0, +)
        let atHalf = ThresholdMetrics(threshold: 0.5, truePositives: truePositives, falsePositives: falsePositives, positives: p, total: total)
        return [
            Double(total), Double(p), auc, precision, calibration / Double(total), unit(atHalf.accuracy),
            truePositives + falsePositives > 0 ? unit(atHalf.precision) : nil, p > 0 ? unit(atHalf.recall) : nil,
            unit(atHalf.f1),
        ]
    }

    /// Top-label metrics: accuracy from the rank cells, calibration from each confidence bin's top-1
    /// hits against its examples times the bin's midpoint (within half a bin of the unbinned ECE).
    static func topLabelMetrics(_ counts: [Int], bins: Int) -> [Double?] {
        let total = counts.reduce(0, +)
        guard total > 0 else { return [0, nil, nil, nil] }
        var (top1, top3, calibration) = (0, 0, 0.0)
        for bin in 0..<bins {
            let cells = counts[(bin * rankCells)..<((bin + 1) * rankCells)]
            let hits = cells[cells.startIndex]
            top1 += hits
            top3 += cells.prefix(3).reduce(0, +)
            calibration += abs(Double(hits) - Double(cells.reduce(0, +)) * (Double(bin) + 0.5) / Double(bins))
        }
        return [Double(total), unit(Double(top1) / Double(total)), unit(Double(top3) / Double(total)), calibration / Double(total)]
    }
}
