/// The curves a reviewer plots for a binary model on held-out data: ROC, precision–recall and a
/// reliability (calibration) table. Computed from the same predictions as `BinaryEvaluation`'s numbers,
/// stored on the card so reports and the console draw them without the data.
///
/// Each curve walks the distinct scores from high to low (`ScoreGroups`), so ties are one step; a curve
/// with more points than `maxPoints` keeps every k-th point and always its first and last, so a card
/// stays small (about 3 × 100 points) whatever the holdout size.
public struct BinaryCurves: Sendable, Hashable, Codable {
    /// One point of a curve: `x` and `y` in [0, 1].
    public struct Point: Sendable, Hashable, Codable {
        public let x: Double
        public let y: Double

        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// One equal-width probability bin: the mean predicted probability, the observed share of label 1,
    /// and how many examples fell in it. Empty bins are left out.
    public struct CalibrationBin: Sendable, Hashable, Codable {
        public let meanPredicted: Double
        public let observedRate: Double
        public let count: Int
    }

    /// (false positive rate, true positive rate) from (0, 0) to (1, 1); empty when a class is absent.
    public let roc: [Point]
    /// (recall, precision) at each threshold, highest threshold first; empty without positives.
    public let precisionRecall: [Point]
    /// The 10 equal-width bins of `BinaryPredictions.expectedCalibrationError`.
    public let calibration: [CalibrationBin]
}

extension BinaryPredictions {
    /// The ROC, precision–recall and calibration curves, each thinned to at most `maxPoints` points.
    public func curves(maxPoints: Int = 101, bins: Int = 10) -> BinaryCurves {
        precondition(maxPoints >= 2 && bins >= 1)
        let groups = ScoreGroups(scores: probabilities, labels: labels)
        var roc: [BinaryCurves.Point] = []
        var precisionRecall: [BinaryCurves.Point] = []
        if groups.positives > 0 {
            var truePositives = 0, falsePositives = 0
            if groups.negatives > 0 { roc.append(.init(x: 0, y: 0)) }
            for group in groups.groups {
                truePositives += group.positives
                falsePositives += group.negatives
                let recall = Double(truePositives) / Double(groups.positives)
                if groups.negatives > 0 { roc.append(.init(x: Double(falsePositives) / Double(groups.negatives), y: recall)) }
                precisionRecall.append(.init(x: recall, y: Double(truePositives) / Double(truePositives + falsePositives)))
            }
        }
        return BinaryCurves(
            roc: Self.thinned(roc, to: maxPoints), precisionRecall: Self.thinned(precisionRecall, to: maxPoints),
            calibration: calibrationBins(bins))
    }

    private func calibrationBins(_ bins: Int) -> [BinaryCurves.CalibrationBin] {
        CalibrationBins.bins(confidences: probabilities, outcomes: labels.map(Double.init), bins: bins).filter { $0.count > 0 }.map {
            BinaryCurves.CalibrationBin(
                meanPredicted: $0.confidenceSum / Double($0.count), observedRate: $0.outcomeSum / Double($0.count), count: $0.count)
        }
    }

    /// Every k-th point (k the smallest stride that fits) plus the last one.
    static func thinned(_ points: [BinaryCurves.Point], to maxPoints: Int) -> [BinaryCurves.Point] {
        guard points.count > maxPoints else { return points }
        let stride = (points.count - 1 + maxPoints - 2) / (maxPoints - 1)
        var kept = Swift.stride(from: 0, to: points.count - 1, by: stride).map { points[$0] }
        kept.append(points[points.count - 1])
        return kept
    }
}
