/// A causal 1-D convolution over each example's rows in time order, with ReLU:
/// `y_t = max(0, b + Σ_{j<width} x_{t − j·dilation} · W_j)`, where rows before the example's first count
/// as zero — an output never sees a later event (as in Caser's and NextItNet's convolutions).
///
/// Parameters at `parameterOffset`: W as `width` taps, each `inputs × outputs` input-major
/// (`w[(j · inputs + i) · outputs + o]`), then the `outputs` biases. `outputDelta` is dLoss/d(output)
/// (after the ReLU).
///
/// Each tap is one matrix product per example, on the example's rows shifted by `tap · dilation`: the
/// output at row t adds x_{t − tap·d} · W_tap for the rows whose tap falls inside the example (the rows
/// before an example's first are zero, so they add nothing and are skipped). No unrolled copy of the
/// input is made (an im2col buffer of `width` times the input, written in the forward pass and
/// scattered back in the backward pass, cost about a third of the layer's time beside the products).
/// Every output element sums the bias, then tap 0's inputs in order, then tap 1's, …: the terms and
/// order of the product over unrolled rows.
///
/// Per-example gradient norm: every tap is used at every time step, so the example's gradient is
/// Σ_t x̃_t ⊗ δ_t over its rows (x̃_t: the `width` input rows the output at t reads), tap by tap
/// Σ_{t ≥ tap·d} x_{t − tap·d} ⊗ δ_t. As for the GRU the layer forms that sum for the example — the
/// same multiply-adds the batch gradient needs — and takes its exact norm.
struct TemporalConvolutionLayer<Scalar: ComputeScalar>: Layer {
    let inputs: Int
    let outputs: Int
    /// Taps per output.
    let width: Int
    /// Rows between taps.
    let dilation: Int
    let parameterOffset: Int

    var parameterCount: Int { (width * inputs + 1) * outputs }
    var outputWidth: Int { outputs }
    /// Weights per tap (`inputs × outputs`).
    var tapWeights: Int { inputs * outputs }

    final class Memory {
        /// The output per row after `forward`; dLoss/d(pre-activation) per row after `backward`.
        let preActivationDelta: RowBuffer<Scalar>
        /// Each tap's Wᵀ (`outputs × inputs`), side by side: `outputs × (width · inputs)`.
        let weightsTransposed: UnsafeMutablePointer<Scalar>
        let gradient: ExampleGradient<Scalar>

        init(layer: TemporalConvolutionLayer) {
            preActivationDelta = RowBuffer(width: layer.outputs)
            weightsTransposed = .allocate(capacity: layer.width * layer.tapWeights)
            gradient = ExampleGradient(count: layer.parameterCount)
        }

        deinit { weightsTransposed.deallocate() }
    }

    func makeMemory() -> Memory { Memory(layer: self) }

    /// Rows of an example of `length` rows that tap `tap` reaches (its output rows from `shift` on read
    /// input rows from 0 on), and the shift.
    @inline(__always)
    private func reach(tap: Int, length: Int) -> (rows: Int, shift: Int) {
        let shift = tap * dilation
        return (max(0, length - shift), shift)
    }

    func forward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>
    ) {
        memory.gradient.example = -1
        let count = rows.rowCount
        memory.preActivationDelta.reserve(rows: count)
        let weights = parameters + parameterOffset
        let bias = weights + width * tapWeights
        for row in 0..<count { output.row(row).update(from: bias, count: outputs) }
        for example in 0..<rows.count {
            let span = rows[example]
            for tap in 0..<width {
                let (reached, shift) = reach(tap: tap, length: span.count)
                guard reached > 0 else { break }
                MatrixKernels.multiply(
                    input.row(span.lowerBound), inputs, weights + tap * tapWeights, outputs,
                    into: output.row(span.lowerBound + shift), outputs, m: reached, k: inputs, n: outputs,
                    accumulate: true)
            }
        }
        DenseKernels.relu(output.base, count: count * outputs)
        memory.preActivationDelta.base.update(from: output.base, count: count * outputs)
    }

    func backward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        outputDelta: RowBuffer<Scalar>, inputDelta: RowBuffer<Scalar>?
    ) {
        memory.gradient.example = -1
        let count = rows.rowCount
        // The ReLU's derivative, from the output `forward` kept in the same buffer.
        let weights = parameters + parameterOffset
        let delta = memory.preActivationDelta
        for row in 0..<count {
            let d = delta.row(row)
            let signal = outputDelta.row(row)
            for o in 0..<outputs { d[o] = d[o] > 0 ? signal[o] : 0 }
        }
        guard let inputDelta else { return }
        let unrolledWidth = width * inputs
        MatrixKernels.transpose(weights, outputs, into: memory.weightsTransposed, m: unrolledWidth, n: outputs)
        for row in 0..<count { inputDelta.row(row).update(repeating: 0, count: inputs) }
        // dLoss/dx_s = Σ_tap δ_{s + tap·d} · W_tapᵀ over the taps whose output row is in the example.
        for example in 0..<rows.count {
            let span = rows[example]
            for tap in 0..<width {
                let (reached, shift) = reach(tap: tap, length: span.count)
                guard reached > 0 else { break }
                MatrixKernels.multiply(
                    delta.row(span.lowerBound + shift), outputs, memory.weightsTransposed + tap * inputs,
                    unrolledWidth, into: inputDelta.row(span.lowerBound), inputs, m: reached, k: outputs, n: inputs,
                    accumulate: true)
            }
        }
    }

    func squaredGradientNorm(
        example: Int, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) -> Double {
        materialise(example: example, input: input, rows: rows, memory: memory)
        return memory.gradient.squaredNorm
    }

    func addGradient(
        example: Int, weight: Scalar, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        guard !rows[example].isEmpty else { return }
        if memory.gradient.example != example { materialise(example: example, input: input, rows: rows, memory: memory) }
        memory.gradient.add(weight: weight, into: gradient + parameterOffset)
    }

    func addChunkGradient(
        weights: UnsafePointer<Scalar>, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {}

    /// Writes example `example`'s gradient, in parameter layout, to `memory.gradient`.
    private func materialise(example: Int, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory) {
        let span = rows[example]
        let gradient = memory.gradient.start(example: example)
        let delta = memory.preActivationDelta
        for tap in 0..<width {
            let (reached, shift) = reach(tap: tap, length: span.count)
            guard reached > 0 else { break }
            MatrixKernels.accumulateOuterProducts(
                input.row(span.lowerBound), inputs, delta.row(span.lowerBound + shift), outputs, rowWeights: nil,
                into: gradient + tap * tapWeights, outputs, m: reached, k: inputs, n: outputs)
        }
        let bias = gradient + width * tapWeights
        for row in span {
            let d = delta.row(row)
            for o in 0..<outputs { bias[o] += d[o] }
        }
    }
}
