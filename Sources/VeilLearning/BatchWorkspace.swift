/// Scratch memory for one minibatch through a network: per-layer activations and backprop signals, row
/// weights and per-row squared gradient norms. It grows when a batch is larger than any before and is
/// otherwise reused, so a training step allocates nothing.
///
/// Layout: `activations[0]` holds the batch's input rows; `activations[l + 1]` holds layer `l`'s outputs
/// (after ReLU for hidden layers; logits for the last). `deltas[l]` holds dLoss/d(pre-activation) of
/// layer `l`, one row per example, *unscaled* (each row is that example's own signal).
final class BatchWorkspace {
    let layers: [LayerShape]
    let head: ModelArchitecture.Head
    private(set) var capacity = 0
    /// Rows of the current batch.
    private(set) var rows = 0
    private var activations: [UnsafeMutablePointer<Double>] = []
    private var deltas: [UnsafeMutablePointer<Double>] = []
    private(set) var labels: UnsafeMutablePointer<Int>
    /// Per-row factor applied when gradients are accumulated (1/B for plain SGD, clip factors for DP-SGD).
    private(set) var rowWeights: UnsafeMutablePointer<Double>
    /// Per-row squared norm of the row's own gradient, filled by `computeGhostSquaredNorms`.
    private(set) var squaredNorms: UnsafeMutablePointer<Double>

    init(architecture: ModelArchitecture, capacity: Int = 1) {
        layers = architecture.layers
        head = architecture.head
        labels = .allocate(capacity: 0)
        rowWeights = .allocate(capacity: 0)
        squaredNorms = .allocate(capacity: 0)
        reserve(rows: max(capacity, 1))
    }

    deinit { releaseBuffers() }

    /// Widths of `activations[0...L]`.
    private var widths: [Int] { [layers[0].inputs] + layers.map(\.outputs) }

    /// Makes room for at least `count` rows (growing geometrically so Poisson batches settle quickly).
    func reserve(rows count: Int) {
        guard count > capacity else { return }
        let newCapacity = max(count, capacity + capacity / 2)
        releaseBuffers()
        capacity = newCapacity
        activations = widths.map { .allocate(capacity: $0 * newCapacity) }
        deltas = layers.map { .allocate(capacity: $0.outputs * newCapacity) }
        labels = .allocate(capacity: newCapacity)
        rowWeights = .allocate(capacity: newCapacity)
        squaredNorms = .allocate(capacity: newCapacity)
    }

    private func releaseBuffers() {
        activations.forEach { $0.deallocate() }
        deltas.forEach { $0.deallocate() }
        labels.deallocate()
        rowWeights.deallocate()
        squaredNorms.deallocate()
    }

    /// Copies the rows at `indices` of `data` into the batch.
    func load(rows indices: UnsafeBufferPointer<Int>, from data: LabeledDataset) {
        reserve(rows: indices.count)
        rows = indices.count
        let width = data.featureCount
        let input = activations[0]
        data.features.withUnsafeBufferPointer { features in
            for (slot, index) in indices.enumerated() {
                (input + slot * width).update(from: features.baseAddress! + index * width, count: width)
                labels[slot] = data.labels[index]
            }
        }
    }

    /// Copies `count` consecutive rows of a row-major feature matrix starting at `firstRow` (no labels).
    func load(features: UnsafeBufferPointer<Double>, firstRow: Int, count: Int) {
        reserve(rows: count)
        rows = count
        let width = layers[0].inputs
        activations[0].update(from: features.baseAddress! + firstRow * width, count: count * width)
    }

    /// The rows' logits after `forward`: `rows × outputSize`, row-major.
    var logits: UnsafePointer<Double> { UnsafePointer(activations[layers.count]) }

    /// Runs the batch through every layer.
    func forward(parameters: UnsafePointer<Double>) {
        for (l, layer) in layers.enumerated() {
            DenseKernels.forward(
                input: activations[l], weights: parameters + layer.weightOffset,
                bias: parameters + layer.biasOffset, output: activations[l + 1],
                rows: rows, inputs: layer.inputs, outputs: layer.outputs)
            if l < layers.count - 1 { DenseKernels.relu(activations[l + 1], count: rows * layer.outputs) }
        }
    }

    /// Fills the output layer's backprop signal from the logits and labels; returns the summed loss.
    func computeOutputDeltas() -> Double {
        let outputs = layers[layers.count - 1].outputs
        let z = logits
        let delta = deltas[layers.count - 1]
        var total = 0.0
        switch head {
        case .sigmoid:
            for row in 0..<rows {
                let (loss, d) = OutputHead.sigmoidLoss(logit: z[row], label: labels[row])
                delta[row] = d
                total += loss
            }
        case .softmax:
            for row in 0..<rows {
                total += OutputHead.softmaxLoss(
                    logits: z + row * outputs, count: outputs, label: labels[row], delta: delta + row * outputs)
            }
        }
        return total
    }

    /// Propagates the output signal back to every hidden layer (no gradients yet).
    func backpropagate(parameters: UnsafePointer<Double>) {
        for l in stride(from: layers.count - 1, to: 0, by: -1) {
            let layer = layers[l]
            DenseKernels.backward(
                delta: deltas[l], weights: parameters + layer.weightOffset, input: activations[l],
                inputDelta: deltas[l - 1], rows: rows, inputs: layer.inputs, outputs: layer.outputs)
        }
    }

    /// Ghost clipping: each row's squared gradient norm, Σ_layers (‖a‖² + 1)·‖δ‖², without forming the
    /// per-row gradients. Exact for dense layers, where one example's weight gradient is the outer
    /// product a ⊗ δ and so has norm ‖a‖·‖δ‖.
    func computeGhostSquaredNorms() {
        squaredNorms.update(repeating: 0, count: rows)
        for (l, layer) in layers.enumerated() {
            DenseKernels.accumulateGhostSquaredNorms(
                input: activations[l], delta: deltas[l], squaredNorms: squaredNorms,
                rows: rows, inputs: layer.inputs, outputs: layer.outputs)
        }
    }

    /// Sets every row weight to `value`.
    func setRowWeights(_ value: Double) {
        rowWeights.update(repeating: value, count: rows)
    }

    /// Writes `Σ_b rowWeights[b] · ∇loss_b` over the batch to `gradient` (overwriting it).
    func accumulateGradient(into gradient: UnsafeMutableBufferPointer<Double>) {
        let base = gradient.baseAddress!
        base.update(repeating: 0, count: gradient.count)
        for (l, layer) in layers.enumerated() {
            DenseKernels.accumulateGradient(
                input: activations[l], delta: deltas[l], rowWeights: rowWeights,
                weightGradient: base + layer.weightOffset, biasGradient: base + layer.biasOffset,
                rows: rows, inputs: layer.inputs, outputs: layer.outputs)
        }
    }
}
