import VeilCore

/// A dense, labelled training or evaluation set: `rowCount × featureCount` features, row-major, and one
/// class label per row.
///
/// Features are expected to be scaled by public bounds to roughly [0, 1] before they get here; this type
/// checks only that they are finite. Labels are class indices in `0..<classCount` (0/1 for binary models).
/// Each row is one user, which is what makes DP-SGD's per-example guarantee a per-user guarantee.
public struct LabeledDataset: TrainingData, Equatable {
    public let features: [Double]
    public let featureCount: Int
    public let labels: [Int]
    public let classCount: Int

    public var rowCount: Int { labels.count }
    public var exampleCount: Int { labels.count }

    /// Throws `VeilError.invalidInput` naming the field when shapes disagree, a feature is not finite or
    /// a label is outside `0..<classCount`.
    public init(features: [Double], featureCount: Int, labels: [Int], classCount: Int = 2) throws {
        guard featureCount > 0 else {
            throw VeilError(.invalidInput, field: "featureCount", "must be at least 1")
        }
        guard classCount >= 2 else {
            throw VeilError(.invalidInput, field: "classCount", "must be at least 2")
        }
        guard features.count == labels.count * featureCount else {
            throw VeilError(
                .invalidInput, field: "features",
                "must hold exactly featureCount values per label (\(featureCount) × \(labels.count))")
        }
        guard features.allSatisfy({ $0.isFinite }) else {
            throw VeilError(.invalidInput, field: "features", "every feature must be a finite number")
        }
        guard labels.allSatisfy({ (0..<classCount).contains($0) }) else {
            throw VeilError(.invalidInput, field: "labels", "every label must be in 0..<\(classCount)")
        }
        self.features = features
        self.featureCount = featureCount
        self.labels = labels
        self.classCount = classCount
    }
}
