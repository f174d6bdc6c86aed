import VeilCore

/// A feed-forward model: its architecture and its parameters in one flat array (layout documented on
/// `ModelArchitecture`). A value type; training returns a new one.
public struct Network: Sendable, Equatable {
    public let architecture: ModelArchitecture
    public internal(set) var parameters: [Double]

    /// Wraps existing parameters. Throws `VeilError.invalidInput` when the count does not match the
    /// architecture or a parameter is not finite.
    public init(architecture: ModelArchitecture, parameters: [Double]) throws {
        guard parameters.count == architecture.parameterCount else {
            throw VeilError(
                .invalidInput, field: "parameters",
                "expected \(architecture.parameterCount) parameters for this architecture, got \(parameters.count)")
        }
        guard parameters.allSatisfy({ $0.isFinite }) else {
            throw VeilError(.invalidInput, field: "parameters", "every parameter must be a finite number")
        }
        self.architecture = architecture
        self.parameters = parameters
    }

    /// Fresh parameters: biases zero; weights uniform in ±√(6/inputs) (He) for layers followed by ReLU
    /// and ±√(6/(inputs+outputs)) (Glorot) for the output layer. Deterministic given the generator.
    /// Initialisation uses no data, so it costs no privacy.
    public init<Generator: RandomNumberGenerator>(architecture: ModelArchitecture, using generator: inout Generator) {
        var parameters = [Double](repeating: 0, count: architecture.parameterCount)
        let layers = architecture.layers
        for (index, layer) in layers.enumerated() {
            let fanIn = Double(layer.inputs)
            let limit = index < layers.count - 1
                ? (6 / fanIn).squareRoot()
                : (6 / (fanIn + Double(layer.outputs))).squareRoot()
            for k in layer.weightOffset..<layer.biasOffset {
                parameters[k] = (2 * generator.unitInterval() - 1) * limit
            }
        }
        self.architecture = architecture
        self.parameters = parameters
    }

    /// Class probabilities for each row of a row-major feature matrix with `architecture.inputSize`
    /// columns. Sigmoid head: one value per row, P(label = 1). Softmax head: `classes` values per row.
    /// Throws `VeilError.invalidInput` when `features.count` is not a multiple of the input size.
    public func predictProbabilities(_ features: [Double]) throws -> [Double] {
        let width = architecture.inputSize
        guard features.count % width == 0 else {
            throw VeilError(
                .invalidInput, field: "features", "must hold a whole number of rows of \(width) values")
        }
        let rows = features.count / width
        let outputs = architecture.outputSize
        let chunk = 256
        let workspace = BatchWorkspace(architecture: architecture, capacity: min(rows, chunk))
        var result = [Double](repeating: 0, count: rows * outputs)
        features.withUnsafeBufferPointer { input in
            parameters.withUnsafeBufferPointer { parameters in
                result.withUnsafeMutableBufferPointer { out in
                    for first in stride(from: 0, to: rows, by: chunk) {
                        let count = min(chunk, rows - first)
                        workspace.load(features: input, firstRow: first, count: count)
                        workspace.forward(parameters: parameters.baseAddress!)
                        let logits = workspace.logits
                        let target = out.baseAddress! + first * outputs
                        switch architecture.head {
                        case .sigmoid:
                            for row in 0..<count { target[row] = OutputHead.sigmoid(logits[row]) }
                        case .softmax:
                            for row in 0..<count {
                                OutputHead.softmax(
                                    logits: logits + row * outputs, count: outputs,
                                    probabilities: target + row * outputs)
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
