import VeilCore

/// Where a sequence model's head starts instead of its random draw: every head weight and bias at zero
/// except the listed weights from context columns to outputs. It is built from public structure only —
/// the schema's column names and the task's classes, never from data — so it costs no privacy.
///
/// The model's first predictions are then the rule those weights spell out (for `next_category`, the
/// user's favourite category by sessions: `NextCategoryTask.headPrior`), and the encoder's contribution starts at
/// zero: its head weights are zero, so it is gated off until training moves them. DP-SGD then learns
/// what improves on the rule instead of learning the rule from noisy steps first.
public struct HeadPrior: Sendable, Hashable {
    /// The weight from context column `contextColumn` (`SequenceSchema.contextNames` order) to the head's
    /// output `output` (the class, for a softmax).
    public struct Weight: Sendable, Hashable {
        public var contextColumn: Int
        public var output: Int
        public var value: Double

        public init(contextColumn: Int, output: Int, value: Double) {
            self.contextColumn = contextColumn
            self.output = output
            self.value = value
        }
    }

    /// What the card says the head started as.
    public var name: String
    public var weights: [Weight]

    public init(name: String, weights: [Weight]) {
        self.name = name
        self.weights = weights
    }

    /// `parameters` (laid out as `SequenceModel` lays out `architecture`'s) with the head replaced by
    /// this prior's. Parameters before and after the head (the repeat path's) are unchanged. Throws
    /// `VeilError.invalidInput` naming
    /// the field when a weight's column or output is outside the architecture's head.
    func apply(to parameters: [Double], architecture: SequenceArchitecture) throws -> [Double] {
        let outputs = architecture.classCount == 2 ? 1 : architecture.classCount
        let firstContextInput = architecture.hiddenWidth + (architecture.headReadsEvents ? architecture.embeddingWidth : 0)
        let headEnd = parameters.count - architecture.repeatParameterCount
        let headStart = headEnd - (firstContextInput + architecture.contextWidth + 1) * outputs
        var result = parameters
        for index in headStart..<headEnd { result[index] = 0 }
        for weight in weights {
            guard (0..<architecture.contextWidth).contains(weight.contextColumn) else {
                throw VeilError(.invalidInput, field: "headPrior", "a context column outside the head's context")
            }
            guard (0..<outputs).contains(weight.output) else {
                throw VeilError(.invalidInput, field: "headPrior", "an output outside the head's")
            }
            result[headStart + (firstContextInput + weight.contextColumn) * outputs + weight.output] = weight.value
        }
        return result
    }
}
