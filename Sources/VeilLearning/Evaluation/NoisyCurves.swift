/// The ROC, precision–recall and calibration curves of a released holdout histogram
/// (`HoldoutHistogram`, as `PrivateEvaluation.released` rebuilds it from a card): drawn from the noisy
/// counts alone, so they are post-processing of the differentially private release and cost nothing
/// beyond the run's ε.
///
/// How noisy counts become curves:
/// - Every count is first clamped at 0 (noise can make a cell negative; a curve cannot hold a negative
///   number of users). The cumulative counts then never decrease as the threshold is lowered, so the
///   ROC and the recall axis are monotone and both curves run from one end to the other. (The metrics
///   themselves — AUC, average precision — use the unclamped counts: see `HoldoutHistogram`.)
/// - Thresholds are the score-bin edges k / bins, from the top (k = bins, nothing predicted positive)
///   down to 0 (everything predicted positive). At each, TP(k) and FP(k) sum the clamped positive and
///   negative counts of bins k… and P, N are the clamped totals; a bin with nothing left after
///   clamping adds no point.
/// - ROC: (FP(k) / N, TP(k) / P) from (0, 0) to (1, 1); empty when P or N is 0.
/// - Precision–recall: (TP(k) / P, TP(k) / (TP(k) + FP(k))) at each threshold that predicts someone
///   positive; empty when P is 0. `positiveRate` = P / (P + N) is the no-skill precision.
/// - Calibration: per calibration bin, the clamped positives (the binary layout) or top-1 hits (the
///   top-label layout) over the clamped examples, at the bin's midpoint: the mean predicted probability
///   inside a bin is not released, only which bin a score fell in.
public struct NoisyCurves: Sendable, Hashable {
    /// One calibration bin: its probability range, the clamped noisy examples and hits in it, and
    /// their ratio (nil when no example is left after clamping).
    public struct CalibrationBin: Sendable, Hashable {
        public var lower: Double
        public var upper: Double
        public var examples: Int
        public var hits: Int

        public var midpoint: Double { (lower + upper) / 2 }
        public var observedRate: Double? { examples > 0 ? min(Double(hits) / Double(examples), 1) : nil }
    }

    /// (false positive rate, true positive rate); empty for a top-label histogram.
    public var roc: [BinaryCurves.Point]
    /// (recall, precision), highest threshold first; empty for a top-label histogram.
    public var precisionRecall: [BinaryCurves.Point]
    /// P / (P + N) from the clamped counts (binary layout; nil without examples or for top-label).
    public var positiveRate: Double?
    /// Every calibration bin, empty ones included, lowest first.
    public var calibration: [CalibrationBin]
}

extension HoldoutHistogram {
    /// The curves of these counts (see `NoisyCurves` for how negative noisy counts are handled).
    public var noisyCurves: NoisyCurves {
        let clamped = counts.map { max($0, 0) }
        switch layout {
        case let .binary(bins):
            let negatives = Array(clamped[0..<bins])
            let positives = Array(clamped[bins..<(2 * bins)])
            let (p, n) = (positives.reduce(0, +), negatives.reduce(0, +))
            var roc: [BinaryCurves.Point] = []
            var precisionRecall: [BinaryCurves.Point] = []
            var (truePositives, falsePositives) = (0, 0)
            if p > 0 && n > 0 { roc.append(.init(x: 0, y: 0)) }
            for bin in stride(from: bins - 1, through: 0, by: -1) where positives[bin] + negatives[bin] > 0 {
                truePositives += positives[bin]
                falsePositives += negatives[bin]
                if p > 0 && n > 0 {
                    roc.append(.init(x: Double(falsePositives) / Double(n), y: Double(truePositives) / Double(p)))
                }
                if p > 0 && truePositives + falsePositives > 0 {
                    precisionRecall.append(
                        .init(x: Double(truePositives) / Double(p), y: Double(truePositives) / Double(truePositives + falsePositives)))
                }
            }
            let calibration = (0..<Self.binaryCalibrationGroups).map { group in
                let range = Self.calibrationGroup(group, bins: bins)
                return NoisyCurves.CalibrationBin(
                    lower: Double(group) / Double(Self.binaryCalibrationGroups),
                    upper: Double(group + 1) / Double(Self.binaryCalibrationGroups),
                    examples: range.reduce(0) { $0 + positives[$1] + negatives[$1] }, hits: range.reduce(0) { $0 + positives[$1] })
            }
            return NoisyCurves(
                roc: roc, precisionRecall: precisionRecall, positiveRate: p + n > 0 ? Double(p) / Double(p + n) : nil,
                calibration: calibration)
        case let .topLabel(bins):
            let calibration = (0..<bins).map { bin in
                let cells = clamped[(bin * Self.rankCells)..<((bin + 1) * Self.rankCells)]
                return NoisyCurves.CalibrationBin(
                    lower: Double(bin) / Double(bins), upper: Double(bin + 1) / Double(bins), examples: cells.reduce(0, +),
                    hits: cells[cells.startIndex])
            }
            return NoisyCurves(roc: [], precisionRecall: [], positiveRate: nil, calibration: calibration)
        }
    }
}
