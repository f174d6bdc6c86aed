/// A fully connected layer, `output = activation(input · W + b)`, applied to every row.
///
/// Parameters at `parameterOffset`: the `inputs × outputs` weights input-major (`w[i * outputs + o]`),
/// then the `outputs` biases. `outputDelta` in `backward` is dLoss/d(pre-activation) — the signal the
/// loss head gives the last layer, and the one `backward` hands the layer before when that layer's
/// activation is named in `inputActivation` (ReLU's derivative is folded in there, as masking).
///
/// Per-example gradient norm: example e's gradient is Σ_r a_r ⊗ δ_r (weights) and Σ_r δ_r (bias) over
/// its rows r. With one row per example (rows of features) its squared norm is exactly
/// (‖a‖² + 1)·‖δ‖², computed in O(inputs + outputs) without forming the outer product (ghost clipping,
/// Goodfellow 2015; Li et al. 2022), and the chunk's weighted sum Σ_e w_e a_e ⊗ δ_e is one matrix
/// product (`addChunkGradient`). With several rows (a head applied at every time step) the weights are
/// shared across rows, the row contributions can cancel, and the layer forms the example's gradient in
/// its memory (inputs × outputs values, which `addGradient` then adds) and takes its norm.
struct DenseLayer<Scalar: ComputeScalar>: Layer {
    let inputs: Int
    let outputs: Int
    let activation: Activation
    /// The activation of the layer that produces this layer's input (`.identity` for model inputs).
    let inputActivation: Activation
    let parameterOffset: Int

    var parameterCount: Int { (inputs + 1) * outputs }
    var outputWidth: Int { outputs }
    var weightOffset: Int { parameterOffset }
    var biasOffset: Int { parameterOffset + inputs * outputs }

    /// One example's materialised gradient, for examples with several rows.
    typealias Memory = ExampleGradient<Scalar>

    func makeMemory() -> Memory { Memory(count: parameterCount) }

    func forward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>
    ) {
        memory.example = -1
        DenseKernels.forward(
            input: input.base, weights: parameters + weightOffset, bias: parameters + biasOffset,
            output: output.base, rows: rows.rowCount, inputs: inputs, outputs: outputs)
        if activation == .relu { DenseKernels.relu(output.base, count: rows.rowCount * outputs) }
    }

    func backward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        outputDelta: RowBuffer<Scalar>, inputDelta: RowBuffer<Scalar>?
    ) {
        memory.example = -1
        guard let inputDelta else { return }
        DenseKernels.backward(
            delta: outputDelta.base, weights: parameters + weightOffset, input: input.base,
            inputDelta: inputDelta.base, rows: rows.rowCount, inputs: inputs, outputs: outputs,
            inputIsReLU: inputActivation == .relu)
    }

    func squaredGradientNorm(
        example: Int, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) -> Double {
        let span = rows[example]
        if span.count == 1 {
            let a = input.row(span.lowerBound)
            let d = outputDelta.row(span.lowerBound)
            return (DenseKernels.squaredNorm(a, inputs) + 1) * DenseKernels.squaredNorm(d, outputs)
        }
        materialise(example: example, input: input, rows: rows, memory: memory, outputDelta: outputDelta)
        return memory.squaredNorm
    }

    /// Whether the chunk's sum is one matrix product (every example one row) rather than per example.
    private func sumsWholeChunk(_ rows: ExampleRows) -> Bool { rows.oneRowEach }

    func addGradient(
        example: Int, weight: Scalar, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        guard !sumsWholeChunk(rows), !rows[example].isEmpty else { return }
        if memory.example != example {
            materialise(example: example, input: input, rows: rows, memory: memory, outputDelta: outputDelta)
        }
        memory.add(weight: weight, into: gradient + parameterOffset)
    }

    func addChunkGradient(
        weights: UnsafePointer<Scalar>, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        guard sumsWholeChunk(rows) else { return }
        let bias = gradient + biasOffset
        for row in 0..<rows.rowCount {
            let weight = weights[row]
            let d = outputDelta.row(row)
            for o in 0..<outputs { bias[o] += weight * d[o] }
        }
        MatrixKernels.accumulateOuterProducts(
            input.base, inputs, outputDelta.base, outputs, rowWeights: weights, into: gradient + weightOffset,
            outputs, m: rows.rowCount, k: inputs, n: outputs)
    }

    /// Writes example `example`'s gradient (weights, then biases) to `memory`.
    private func materialise(
        example: Int, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) {
        let span = rows[example]
        let gradient = memory.start(example: example)
        MatrixKernels.accumulateOuterProducts(
            input.row(span.lowerBound), inputs, outputDelta.row(span.lowerBound), outputs, rowWeights: nil,
            into: gradient, outputs, m: span.count, k: inputs, n: outputs)
        let bias = gradient + inputs * outputs
        for row in span {
            let d = outputDelta.row(row)
            for o in 0..<outputs { bias[o] += d[o] }
        }
    }
}
