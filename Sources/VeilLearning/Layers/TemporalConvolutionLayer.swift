/// A causal 1-D convolution over each example's rows in time order, with ReLU:
/// `y_t = max(0, b + Σ_{j<width} x_{t − j·dilation} · W_j)`, where rows before the example's first count
/// as zero — an output never sees a later event (as in Caser's and NextItNet's convolutions).
///
/// Parameters at `parameterOffset`: W as `width` taps, each `inputs × outputs` input-major
/// (`w[(j · inputs + i) · outputs + o]`), then the `outputs` biases. `outputDelta` is dLoss/d(output)
/// (after the ReLU).
///
/// Per-example gradient norm: every tap is used at every time step, so the example's gradient is
/// Σ_t x̃_t ⊗ δ_t over its rows (x̃_t: the `width` input rows the output at t reads). As for the GRU the
/// layer forms that sum for the example — the same multiply-adds the batch gradient needs — and takes
/// its exact norm.
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
    /// Columns of an unrolled input row: the `width` input rows one output reads, side by side.
    var unrolledWidth: Int { width * inputs }

    final class Memory {
        /// Each row's unrolled input (x_t, x_{t−d}, …; zeros before the example's first row).
        let unrolled: RowBuffer<Scalar>
        /// The output per row after `forward`; dLoss/d(pre-activation) per row after `backward`.
        let preActivationDelta: RowBuffer<Scalar>
        /// dLoss/d(unrolled input) per row.
        let unrolledDelta: RowBuffer<Scalar>
        let weightsTransposed: UnsafeMutablePointer<Scalar>
        let gradient: ExampleGradient<Scalar>

        init(layer: TemporalConvolutionLayer) {
            unrolled = RowBuffer(width: layer.unrolledWidth)
            preActivationDelta = RowBuffer(width: layer.outputs)
            unrolledDelta = RowBuffer(width: layer.unrolledWidth)
            weightsTransposed = .allocate(capacity: layer.unrolledWidth * layer.outputs)
            gradient = ExampleGradient(count: layer.parameterCount)
        }

        deinit { weightsTransposed.deallocate() }
    }

    func makeMemory() -> Memory { Memory(layer: self) }

    func forward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>
    ) {
        memory.gradient.example = -1
        let count = rows.rowCount
        for buffer in [memory.unrolled, memory.preActivationDelta, memory.unrolledDelta] { buffer.reserve(rows: count) }
        for example in 0..<rows.count {
            let span = rows[example]
            for row in span {
                let target = memory.unrolled.row(row)
                for tap in 0..<width {
                    let source = row - tap * dilation
                    if source >= span.lowerBound {
                        (target + tap * inputs).update(from: input.row(source), count: inputs)
                    } else {
                        (target + tap * inputs).update(repeating: 0, count: inputs)
                    }
                }
            }
        }
        let weights = parameters + parameterOffset
        let bias = weights + unrolledWidth * outputs
        for row in 0..<count { output.row(row).update(from: bias, count: outputs) }
        MatrixKernels.multiply(
            memory.unrolled.base, unrolledWidth, weights, outputs, into: output.base, outputs, m: count,
            k: unrolledWidth, n: outputs, accumulate: true)
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
        MatrixKernels.transpose(weights, outputs, into: memory.weightsTransposed, m: unrolledWidth, n: outputs)
        MatrixKernels.multiply(
            delta.base, outputs, memory.weightsTransposed, unrolledWidth, into: memory.unrolledDelta.base,
            unrolledWidth, m: count, k: outputs, n: unrolledWidth, accumulate: false)
        for row in 0..<count { inputDelta.row(row).update(repeating: 0, count: inputs) }
        for example in 0..<rows.count {
            let span = rows[example]
            for row in span {
                let source = memory.unrolledDelta.row(row)
                for tap in 0..<width {
                    let target = row - tap * dilation
                    guard target >= span.lowerBound else { break }
                    let into = inputDelta.row(target)
                    let from = source + tap * inputs
                    for i in 0..<inputs { into[i] += from[i] }
                }
            }
        }
    }

    func squaredGradientNorm(
        example: Int, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) -> Double {
        materialise(example: example, rows: rows, memory: memory)
        return memory.gradient.squaredNorm
    }

    func addGradient(
        example: Int, weight: Scalar, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        guard !rows[example].isEmpty else { return }
        if memory.gradient.example != example { materialise(example: example, rows: rows, memory: memory) }
        memory.gradient.add(weight: weight, into: gradient + parameterOffset)
    }

    func addChunkGradient(
        weights: UnsafePointer<Scalar>, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {}

    /// Writes example `example`'s gradient, in parameter layout, to `memory.gradient`.
    private func materialise(example: Int, rows: ExampleRows, memory: Memory) {
        let span = rows[example]
        let gradient = memory.gradient.start(example: example)
        if !span.isEmpty {
            MatrixKernels.accumulateOuterProducts(
                memory.unrolled.row(span.lowerBound), unrolledWidth, memory.preActivationDelta.row(span.lowerBound),
                outputs, rowWeights: nil, into: gradient, outputs, m: span.count, k: unrolledWidth, n: outputs)
            let bias = gradient + unrolledWidth * outputs
            for row in span {
                let d = memory.preActivationDelta.row(row)
                for o in 0..<outputs { bias[o] += d[o] }
            }
        }
    }
}
