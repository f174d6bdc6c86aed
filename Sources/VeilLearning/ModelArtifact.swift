import Foundation
import VeilCore

/// A trained model as a self-describing JSON document: what kind of model, its layer sizes and every
/// parameter, plus (optionally) how it was trained. Loading it back gives a `DenseModel` whose predictions
/// are bitwise identical (JSON numbers are written in the shortest form that round-trips a `Double`).
///
/// Parameter layout (`parameterLayout`, fixed for format version 1): layer by layer from the input,
/// the `inputs × outputs` weights input-major (`w[i * outputs + o]`), then the `outputs` biases.
public struct ModelArtifact: Sendable, Hashable, Codable {
    public static let currentFormatVersion = 1
    static let layoutDescription = "per layer from the input: weights input-major (w[i*outputs+o]), then biases"

    public let formatVersion: Int
    /// `ModelArchitecture.kind`: logistic_regression, mlp, softmax_regression or mlp_softmax.
    public let kind: String
    public let inputSize: Int
    public let hiddenSizes: [Int]
    /// Activation between layers; always "relu" in format version 1.
    public let hiddenActivation: String
    /// "sigmoid" (binary) or "softmax".
    public let output: String
    /// 2 for a sigmoid output.
    public let classCount: Int
    public let parameterLayout: String
    public let parameters: [Double]
    /// The hyperparameters the model was trained with, when known.
    public let training: TrainingReport?

    public init(network: DenseModel, training: TrainingReport? = nil) {
        let architecture = network.architecture
        formatVersion = Self.currentFormatVersion
        kind = architecture.kind
        inputSize = architecture.inputSize
        hiddenSizes = architecture.hiddenSizes
        hiddenActivation = "relu"
        switch architecture.head {
        case .sigmoid: output = "sigmoid"
        case .softmax: output = "softmax"
        }
        classCount = architecture.classCount
        parameterLayout = Self.layoutDescription
        parameters = network.parameters
        self.training = training
    }

    /// The model this artifact describes. Throws `VeilError.invalidInput` naming the field when the
    /// artifact is of an unknown version, inconsistent (kind vs. layers vs. output) or has the wrong
    /// number of parameters.
    public func network() throws -> DenseModel {
        guard formatVersion == Self.currentFormatVersion else {
            throw VeilError(
                .invalidInput, field: "formatVersion",
                "this build reads model format version \(Self.currentFormatVersion), not \(formatVersion)")
        }
        guard hiddenActivation == "relu" else {
            throw VeilError(.invalidInput, field: "hiddenActivation", "must be \"relu\"")
        }
        let head: ModelArchitecture.Head
        switch output {
        case "sigmoid" where classCount == 2: head = .sigmoid
        case "softmax": head = .softmax(classes: classCount)
        default:
            throw VeilError(
                .invalidInput, field: "output", "must be \"sigmoid\" (with classCount 2) or \"softmax\"")
        }
        let architecture = try ModelArchitecture(inputSize: inputSize, hiddenSizes: hiddenSizes, head: head)
        guard architecture.kind == kind else {
            throw VeilError(
                .invalidInput, field: "kind",
                "does not match the layers and output given (they describe \(architecture.kind))")
        }
        return try DenseModel(architecture: architecture, parameters: parameters)
    }

    /// The artifact as JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }

    /// Reads an artifact written by `jsonData()`. Throws `VeilError.invalidInput` when it is not one.
    public static func decode(json: Data) throws -> ModelArtifact {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(ModelArtifact.self, from: json)
        } catch {
            throw VeilError(.invalidInput, field: "model", "not a readable Veil model artifact")
        }
    }
}
