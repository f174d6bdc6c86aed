/// Expected calibration error over equal-width confidence bins.
enum CalibrationBins {
    /// `Σ_bins (count / n) · |mean outcome − mean confidence|`, with confidences in [0, 1] binned by
    /// ⌊confidence · bins⌋ (1.0 joins the last bin). Empty bins contribute nothing.
    static func error(confidences: [Double], outcomes: [Double], bins: Int) -> Double {
        precondition(bins >= 1 && confidences.count == outcomes.count && !confidences.isEmpty)
        var counts = [Int](repeating: 0, count: bins)
        var confidenceSums = [Double](repeating: 0, count: bins)
        var outcomeSums = [Double](repeating: 0, count: bins)
        for (confidence, outcome) in zip(confidences, outcomes) {
            let bin = min(Int(confidence * Double(bins)), bins - 1)
            counts[bin] += 1
            confidenceSums[bin] += confidence
            outcomeSums[bin] += outcome
        }
        var total = 0.0
        for bin in 0..<bins where counts[bin] > 0 {
            total += abs(outcomeSums[bin] - confidenceSums[bin])
        }
        return total / Double(confidences.count)
    }
}
