import Dispatch
import Foundation
import Synchronization
import VeilCore

/// A feed-forward model over rows of features: dense layers with ReLU between them and a sigmoid or
/// softmax output (`ModelArchitecture`) — logistic regression, softmax regression and MLPs. Parameters
/// live in one flat array of `Double`s, layout documented on `ModelArchitecture`. A value type; training
/// returns a new one.
///
/// `Scalar` is the precision of the forward, backward and norm passes (`TrainableModel`): `DenseModel`
/// (`Double`) is what artifacts hold, serving runs and the exactness tests check; `DenseNetwork<Float>`
/// is what `DenseModel.train` trains (`TrainingPrecision`). The parameters are `Double` in both, so
/// converting between them (`init(converting:)`) changes no value.
///
/// The trainers reach it through its generic conformance from other modules, so its training entry
/// points are specialised (`@_specialize`) for both precisions: unspecialised, every multiply-add would
/// run through generic witness calls.
public struct DenseNetwork<Scalar: ComputeScalar>: TrainableModel, Equatable {
    public typealias Data = LabeledDataset

    public let architecture: ModelArchitecture
    public var parameters: [Double]

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

    /// 64 rows: a chunk's activations and gradient stay in a core's L2 cache for any MLP Veil trains.
    public var chunkSize: Int { 64 }

    /// The same architecture and parameters computing in `Other`'s precision (no value changes: the
    /// parameters are `Double` in both).
    public init<Other: ComputeScalar>(converting model: DenseNetwork<Other>) {
        architecture = model.architecture
        parameters = model.parameters
    }

    public static func == (lhs: DenseNetwork, rhs: DenseNetwork) -> Bool {
        lhs.architecture == rhs.architecture && lhs.parameters == rhs.parameters
    }

    /// The dense layers, ReLU after every one but the last.
    var layers: [DenseLayer<Scalar>] {
        let shapes = architecture.layers
        return shapes.enumerated().map { index, shape in
            DenseLayer(
                inputs: shape.inputs, outputs: shape.outputs,
                activation: index < shapes.count - 1 ? .relu : .identity,
                inputActivation: index > 0 ? .relu : .identity, parameterOffset: shape.weightOffset)
        }
    }

    // MARK: Training

    /// Buffers for one chunk of rows: `activations[0]` holds the input rows, `activations[l + 1]` layer
    /// `l`'s outputs (after ReLU for hidden layers; logits for the last); `deltas[l]` dLoss/d(pre-activation)
    /// of layer `l`, one row per example, unscaled (each row is that example's own signal).
    public final class Workspace {
        let layers: [DenseLayer<Scalar>]
        let activations: [RowBuffer<Scalar>]
        let deltas: [RowBuffer<Scalar>]
        let memories: [DenseLayer<Scalar>.Memory]
        var labels: [Int] = []
        var rows = ExampleRows()
        /// The chunk's example weights in `Scalar` (`addChunkGradient`).
        var chunkWeights: [Scalar] = []

        init(layers: [DenseLayer<Scalar>], examples: Int) {
            self.layers = layers
            activations = [RowBuffer(width: layers[0].inputs, rows: examples)]
                + layers.map { RowBuffer(width: $0.outputs, rows: examples) }
            deltas = layers.map { RowBuffer(width: $0.outputs, rows: examples) }
            memories = layers.map { $0.makeMemory() }
        }

        func reserve(rows count: Int) {
            activations.forEach { $0.reserve(rows: count) }
            deltas.forEach { $0.reserve(rows: count) }
        }

        /// Copies `count` consecutive feature rows (no labels), narrowed to `Scalar`.
        func load(features: UnsafePointer<Double>, count: Int) {
            reserve(rows: count)
            rows.setOneRowEach(count)
            Scalar.narrow(features, into: activations[0].base, count: count * activations[0].width)
        }

        /// The rows' logits after a forward pass: `rows × outputSize`, row-major.
        var logits: UnsafePointer<Scalar> { UnsafePointer(activations[layers.count].base) }
    }

    public func makeWorkspace(examples: Int) -> Workspace {
        Workspace(layers: layers, examples: max(examples, 1))
    }

    public func validate(_ data: LabeledDataset) throws {
        guard data.featureCount == architecture.inputSize else {
            throw VeilError(
                .invalidInput, field: "features",
                "the model takes \(architecture.inputSize) features per row, the data has \(data.featureCount)")
        }
        guard data.classCount == architecture.classCount else {
            throw VeilError(
                .invalidInput, field: "labels",
                "the model predicts \(architecture.classCount) classes, the data has \(data.classCount)")
        }
        guard data.rowCount > 0 else { throw VeilError(.invalidInput, field: "labels", "the data has no rows") }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardBackward(
        _ indices: UnsafeBufferPointer<Int>, data: LabeledDataset, parameters: UnsafePointer<Scalar>,
        workspace: Workspace
    ) -> Double {
        workspace.reserve(rows: indices.count)
        workspace.rows.setOneRowEach(indices.count)
        workspace.labels.removeAll(keepingCapacity: true)
        let width = data.featureCount
        let input = workspace.activations[0].base
        data.features.withUnsafeBufferPointer { features in
            for (slot, index) in indices.enumerated() {
                Scalar.narrow(features.baseAddress! + index * width, into: input + slot * width, count: width)
                workspace.labels.append(data.labels[index])
            }
        }
        guard !indices.isEmpty else { return 0 }
        forward(parameters: parameters, workspace: workspace)
        let loss = outputDeltas(workspace)
        let layers = workspace.layers
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            layers[l].backward(
                workspace.activations[l], rows: workspace.rows, parameters: parameters, memory: workspace.memories[l],
                outputDelta: workspace.deltas[l], inputDelta: l > 0 ? workspace.deltas[l - 1] : nil)
        }
        return loss
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func squaredGradientNorm(example: Int, workspace: Workspace) -> Double {
        var squared = 0.0
        for (l, layer) in workspace.layers.enumerated() {
            squared += layer.squaredGradientNorm(
                example: example, input: workspace.activations[l], rows: workspace.rows,
                memory: workspace.memories[l], outputDelta: workspace.deltas[l])
        }
        return squared
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func addGradient(
        example: Int, weight: Double, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        let weight = Scalar(weight)
        for (l, layer) in workspace.layers.enumerated() {
            layer.addGradient(
                example: example, weight: weight, input: workspace.activations[l], rows: workspace.rows,
                memory: workspace.memories[l], outputDelta: workspace.deltas[l], into: gradient)
        }
    }

    /// Layer by layer: first every example's norm, one layer after the other, then the weights, then every
    /// example's add, one layer after the other. Each layer's buffers are fetched once for the whole chunk
    /// (fetched per example and layer, their reference counting cost more than the norms). The same
    /// values as example by example: an example's norm adds its layers in the same order, and each layer
    /// adds at its own parameters, so every parameter's additions keep their order. (Every example is one
    /// row here, so no layer builds an example's gradient that the add could have reused.)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func weighAndAddGradients(
        examples: Int, withNorms: Bool, weigh: (_ example: Int, _ squaredNorm: Double) -> Double,
        weights: UnsafeMutablePointer<Double>, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        let rows = workspace.rows
        let layers = workspace.layers.indices.map {
            (layer: workspace.layers[$0], input: workspace.activations[$0], memory: workspace.memories[$0],
             delta: workspace.deltas[$0])
        }
        weights.initialize(repeating: 0, count: examples)
        if withNorms {
            for (layer, input, memory, delta) in layers {
                for example in 0..<examples {
                    weights[example] += layer.squaredGradientNorm(
                        example: example, input: input, rows: rows, memory: memory, outputDelta: delta)
                }
            }
        }
        for example in 0..<examples { weights[example] = weigh(example, weights[example]) }
        for (layer, input, memory, delta) in layers {
            for example in 0..<examples {
                layer.addGradient(
                    example: example, weight: Scalar(weights[example]), input: input, rows: rows, memory: memory,
                    outputDelta: delta, into: gradient)
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func addChunkGradient(
        weights: UnsafePointer<Double>, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        workspace.chunkWeights.removeAll(keepingCapacity: true)
        for example in 0..<workspace.rows.count { workspace.chunkWeights.append(Scalar(weights[example])) }
        workspace.chunkWeights.withUnsafeBufferPointer { chunkWeights in
            for (l, layer) in workspace.layers.enumerated() {
                layer.addChunkGradient(
                    weights: chunkWeights.baseAddress!, input: workspace.activations[l], rows: workspace.rows,
                    memory: workspace.memories[l], outputDelta: workspace.deltas[l], into: gradient)
            }
        }
    }

    /// Runs the loaded rows through every layer.
    fileprivate func forward(parameters: UnsafePointer<Scalar>, workspace: Workspace) {
        for (l, layer) in workspace.layers.enumerated() {
            layer.forward(
                workspace.activations[l], rows: workspace.rows, parameters: parameters,
                memory: workspace.memories[l], output: workspace.activations[l + 1])
        }
    }

    /// Fills the output layer's backprop signal from the logits and labels; returns the summed loss.
    private func outputDeltas(_ workspace: Workspace) -> Double {
        let outputs = architecture.outputSize
        let z = workspace.logits
        let delta = workspace.deltas[workspace.layers.count - 1].base
        var total = 0.0
        switch architecture.head {
        case .sigmoid:
            for row in 0..<workspace.rows.count {
                let (loss, d) = OutputHead.sigmoidLoss(logit: z[row], label: workspace.labels[row])
                delta[row] = d
                total += loss
            }
        case .softmax:
            for row in 0..<workspace.rows.count {
                total += OutputHead.softmaxLoss(
                    logits: z + row * outputs, count: outputs, label: workspace.labels[row],
                    delta: delta + row * outputs)
            }
        }
        return total
    }
}

/// The dense model in `Double`: what a model artifact holds (`ModelArtifact`), serving scores with and
/// the exactness tests check.
public typealias DenseModel = DenseNetwork<Double>

extension DenseNetwork where Scalar == Double {
    /// Class probabilities for each row of a row-major feature matrix with `architecture.inputSize`
    /// columns. Sigmoid head: one value per row, P(label = 1). Softmax head: `classes` values per row.
    /// Throws `VeilError.invalidInput` when `features.count` is not a multiple of the input size.
    ///
    /// Rows are scored in blocks of `scoringBlock`; more than one block is shared by up to `workers`
    /// threads (default: every core), whoever is free taking the next block. Every row's probabilities
    /// are computed from that row alone, in the same order of operations whatever its block, so the
    /// result is the same, bit for bit, on any number of workers.
    public func predictProbabilities(_ features: [Double], workers: Int? = nil) throws -> [Double] {
        let width = architecture.inputSize
        guard features.count % width == 0 else {
            throw VeilError(
                .invalidInput, field: "features", "must hold a whole number of rows of \(width) values")
        }
        let rows = features.count / width
        var result = [Double](repeating: 0, count: rows * architecture.outputSize)
        let blocks = (rows + Self.scoringBlock - 1) / Self.scoringBlock
        let threads = min(blocks, max(1, workers ?? ProcessInfo.processInfo.activeProcessorCount))
        features.withUnsafeBufferPointer { input in
            parameters.withUnsafeBufferPointer { parameters in
                result.withUnsafeMutableBufferPointer { output in
                    let scan = ScoringScan(
                        model: self, features: input.baseAddress!, parameters: parameters.baseAddress!,
                        output: output.baseAddress!, rows: rows, blocks: blocks)
                    if threads <= 1 {
                        scan.work()
                    } else {
                        DispatchQueue.concurrentPerform(iterations: threads) { _ in scan.work() }
                    }
                }
            }
        }
        return result
    }

    /// Rows per block of `predictProbabilities`: a block's activations stay in a core's cache.
    static let scoringBlock = 256

    /// Writes the probabilities of `count` rows from `features` to `output`, on `workspace`.
    fileprivate func score(
        features: UnsafePointer<Double>, count: Int, parameters: UnsafePointer<Double>, workspace: Workspace,
        output: UnsafeMutablePointer<Double>
    ) {
        let outputs = architecture.outputSize
        workspace.load(features: features, count: count)
        forward(parameters: parameters, workspace: workspace)
        let logits = workspace.logits
        switch architecture.head {
        case .sigmoid:
            for row in 0..<count { output[row] = OutputHead.sigmoid(logits[row]) }
        case .softmax:
            for row in 0..<count {
                OutputHead.softmax(logits: logits + row * outputs, count: outputs, probabilities: output + row * outputs)
            }
        }
    }
}

extension DenseNetwork where Scalar == Double {
    /// Trains a fresh model of `architecture` on `data` with `trainer`, the passes computing in
    /// `TrainingPrecision` (`Float`), and returns it in `Double`, as artifacts and serving hold it. The
    /// parameters are drawn from `initial` exactly as `init(architecture:using:)` draws them; the
    /// master parameters, clip weights, noise and update are `Double` (`TrainingEngine`). Throws as the
    /// trainer does.
    public static func train(
        _ architecture: ModelArchitecture, on data: LabeledDataset, trainer: Trainer,
        initial: inout some RandomNumberGenerator, sampling: inout some RandomNumberGenerator,
        noise: inout some GaussianSource, onEpoch: (EpochProgress) -> Void = { _ in }
    ) throws -> TrainingResult {
        let trained = try trainer.train(
            DenseNetwork<TrainingPrecision>(architecture: architecture, using: &initial), on: data, sampling: &sampling,
            noise: &noise, onEpoch: onEpoch)
        return Trained(model: DenseModel(converting: trained.model), report: trained.report)
    }
}

/// One `predictProbabilities` call's blocks, taken by its workers in any order.
///
/// `@unchecked Sendable`: each block is taken by exactly one worker (the atomic counter), which writes
/// only that block's rows of `output` on its own workspace; the features and parameters are only read,
/// and `concurrentPerform` returns after every worker has finished.
private final class ScoringScan: @unchecked Sendable {
    let model: DenseModel
    let features: UnsafePointer<Double>
    let parameters: UnsafePointer<Double>
    let output: UnsafeMutablePointer<Double>
    let rows: Int
    let blocks: Int
    private let next = Atomic<Int>(0)

    init(
        model: DenseModel, features: UnsafePointer<Double>, parameters: UnsafePointer<Double>,
        output: UnsafeMutablePointer<Double>, rows: Int, blocks: Int
    ) {
        self.model = model
        self.features = features
        self.parameters = parameters
        self.output = output
        self.rows = rows
        self.blocks = blocks
    }

    /// Scores blocks until none is left, on a workspace of its own.
    func work() {
        let block = DenseModel.scoringBlock
        let width = model.architecture.inputSize
        let outputs = model.architecture.outputSize
        let workspace = model.makeWorkspace(examples: min(rows, block))
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            guard index < blocks else { return }
            let first = index * block
            model.score(
                features: features + first * width, count: min(block, rows - first), parameters: parameters,
                workspace: workspace, output: output + first * outputs)
        }
    }
}

/// The name this model had before models were generic over their input; kept while callers move.
public typealias Network = DenseModel
