import VeilCore

/// The shape of a feed-forward model: dense layers with ReLU between them and a sigmoid (binary) or
/// softmax (K-class) output.
///
/// Logistic regression is the case with no hidden layers and a sigmoid head; softmax regression has no
/// hidden layers and a softmax head. Parameters live in one flat array, layer by layer: the weights of a
/// layer with `inputs` inputs and `outputs` outputs, input-major (`w[i * outputs + o]` connects input `i`
/// to output `o`), then its `outputs` biases.
public struct ModelArchitecture: Sendable, Hashable, Codable {
    /// The output layer and the loss that goes with it.
    public enum Head: Sendable, Hashable, Codable {
        /// One logit, probability = sigmoid(logit), binary log loss. Labels are 0 or 1.
        case sigmoid
        /// `classes` logits, probabilities = softmax(logits), cross-entropy. Labels are `0..<classes`.
        case softmax(classes: Int)
    }

    public let inputSize: Int
    public let hiddenSizes: [Int]
    public let head: Head

    /// Throws `VeilError.invalidInput` when a size is not positive or a softmax head has fewer than 2 classes.
    public init(inputSize: Int, hiddenSizes: [Int] = [], head: Head) throws {
        guard inputSize > 0 else { throw VeilError(.invalidInput, field: "inputSize", "must be at least 1") }
        guard hiddenSizes.allSatisfy({ $0 > 0 }) else {
            throw VeilError(.invalidInput, field: "hiddenSizes", "every hidden layer needs at least 1 unit")
        }
        if case .softmax(let classes) = head, classes < 2 {
            throw VeilError(.invalidInput, field: "classes", "a softmax head needs at least 2 classes")
        }
        self.inputSize = inputSize
        self.hiddenSizes = hiddenSizes
        self.head = head
    }

    public static func logisticRegression(inputSize: Int) throws -> ModelArchitecture {
        try ModelArchitecture(inputSize: inputSize, head: .sigmoid)
    }

    public static func softmaxRegression(inputSize: Int, classes: Int) throws -> ModelArchitecture {
        try ModelArchitecture(inputSize: inputSize, head: .softmax(classes: classes))
    }

    /// The family: `logistic` without hidden layers, `mlp` with.
    public var family: ModelFamily { hiddenSizes.isEmpty ? .logistic : .mlp }

    /// The name model artifacts give this shape (format version 1): `logistic_regression`, `mlp`,
    /// `softmax_regression` or `mlp_softmax`.
    public var kind: String {
        switch (hiddenSizes.isEmpty, head) {
        case (true, .sigmoid): "logistic_regression"
        case (true, .softmax): "softmax_regression"
        case (false, .sigmoid): "mlp"
        case (false, .softmax): "mlp_softmax"
        }
    }

    /// Width of the output layer: 1 for a sigmoid head, K for softmax.
    public var outputSize: Int {
        switch head {
        case .sigmoid: 1
        case .softmax(let classes): classes
        }
    }

    /// Number of classes the labels range over (2 for a sigmoid head).
    public var classCount: Int {
        switch head {
        case .sigmoid: 2
        case .softmax(let classes): classes
        }
    }

    /// The dense layers in order, with where each one's parameters start in the flat array.
    public var layers: [LayerShape] {
        let widths = [inputSize] + hiddenSizes + [outputSize]
        var shapes: [LayerShape] = []
        var offset = 0
        for index in 0..<(widths.count - 1) {
            let shape = LayerShape(inputs: widths[index], outputs: widths[index + 1], weightOffset: offset)
            shapes.append(shape)
            offset += shape.parameterCount
        }
        return shapes
    }

    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
}

/// One dense layer's place in the flat parameter array.
public struct LayerShape: Sendable, Hashable {
    public let inputs: Int
    public let outputs: Int
    /// Index of the first weight; the `inputs × outputs` weights are input-major.
    public let weightOffset: Int

    /// Index of the first of the `outputs` biases, right after the weights.
    public var biasOffset: Int { weightOffset + inputs * outputs }
    public var parameterCount: Int { (inputs + 1) * outputs }
}
