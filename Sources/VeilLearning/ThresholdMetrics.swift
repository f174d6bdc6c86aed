/// Classification quality when scores at or above `threshold` are called positive.
/// Precision is 0 when nothing is called positive; recall is 0 when there are no positives (as
/// scikit-learn's `zero_division=0`).
public struct ThresholdMetrics: Sendable, Hashable, Codable {
    public let threshold: Double
    public let accuracy: Double
    public let precision: Double
    public let recall: Double
    public let f1: Double

    /// Builds the metrics from confusion counts.
    init(threshold: Double, truePositives tp: Int, falsePositives fp: Int, positives: Int, total: Int) {
        let fn = positives - tp
        let tn = total - positives - fp
        self.threshold = threshold
        accuracy = Double(tp + tn) / Double(total)
        precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : 0
        recall = positives > 0 ? Double(tp) / Double(positives) : 0
        f1 = tp > 0 ? Double(2 * tp) / Double(2 * tp + fp + fn) : 0
    }
}
