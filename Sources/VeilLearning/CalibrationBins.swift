/// Equal-width confidence bins: the table a reliability diagram plots and expected calibration error sums.
enum CalibrationBins {
    /// One bin's totals.
    struct Bin {
        var count = 0
        var confidenceSum = 0.0
        var outcomeSum = 0.0
    }

    /// Confidences in [0, 1] binned by ⌊confidence · bins⌋ (1.0 joins the last bin), in bin order.
    static func bins(confidences: [Double], outcomes: [Double], bins: Int) -> [Bin] {
        precondition(bins >= 1 && confidences.count == outcomes.count)
        var table = [Bin](repeating: Bin(), count: bins)
        for (confidence, outcome) in zip(confidences, outcomes) {
            let bin = min(Int(confidence * Double(bins)), bins - 1)
            table[bin].count += 1
            table[bin].confidenceSum += confidence
            table[bin].outcomeSum += outcome
        }
        return table
    }

    /// `Σ_bins (count / n) · |mean outcome − mean confidence|` over `bins(…)`. Empty bins contribute nothing.
    static func error(confidences: [Double], outcomes: [Double], bins: Int) -> Double {
        precondition(!confidences.isEmpty)
        let total = Self.bins(confidences: confidences, outcomes: outcomes, bins: bins).reduce(0.0) {
            $0 + abs($1.outcomeSum - $1.confidenceSum)
        }
        return total / Double(confidences.count)
    }
}
