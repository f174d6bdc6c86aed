/// Causal convolutions one after another (`TemporalConvolutionLayer`), the dilation doubling at each
/// (1, 2, 4, …) so the receptive field grows exponentially with depth, as in NextItNet. The first maps
/// `inputs` columns to `channels`, the rest `channels` to `channels`; the output is the last one's.
///
/// Its per-example norm is the sum of its layers' (each exact), so it is exact.
struct ConvolutionStack<Scalar: ComputeScalar>: Layer {
    let layers: [TemporalConvolutionLayer<Scalar>]

    init(inputs: Int, channels: Int, width: Int, depth: Int, parameterOffset: Int) {
        var layers: [TemporalConvolutionLayer<Scalar>] = []
        var offset = parameterOffset
        for index in 0..<depth {
            let layer = TemporalConvolutionLayer<Scalar>(
                inputs: index == 0 ? inputs : channels, outputs: channels, width: width, dilation: 1 << index,
                parameterOffset: offset)
            layers.append(layer)
            offset += layer.parameterCount
        }
        self.layers = layers
    }

    var parameterOffset: Int { layers[0].parameterOffset }
    var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
    var outputWidth: Int { layers[layers.count - 1].outputs }

    final class Memory {
        let memories: [TemporalConvolutionLayer<Scalar>.Memory]
        /// Outputs of every layer but the last, and dLoss/d(those outputs).
        let outputs: [RowBuffer<Scalar>]
        let deltas: [RowBuffer<Scalar>]

        init(stack: ConvolutionStack) {
            memories = stack.layers.map { $0.makeMemory() }
            outputs = stack.layers.dropLast().map { RowBuffer(width: $0.outputs) }
            deltas = stack.layers.dropLast().map { RowBuffer(width: $0.outputs) }
        }
    }

    func makeMemory() -> Memory { Memory(stack: self) }

    /// Layer `index`'s input: the stack's input for the first, the previous layer's output after.
    private func input(_ index: Int, _ input: RowBuffer<Scalar>, _ memory: Memory) -> RowBuffer<Scalar> {
        index == 0 ? input : memory.outputs[index - 1]
    }

    /// Layer `index`'s output delta: the stack's for the last.
    private func delta(_ index: Int, _ outputDelta: RowBuffer<Scalar>, _ memory: Memory) -> RowBuffer<Scalar> {
        index == layers.count - 1 ? outputDelta : memory.deltas[index]
    }

    func forward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>
    ) {
        for buffer in memory.outputs + memory.deltas { buffer.reserve(rows: rows.rowCount) }
        for (index, layer) in layers.enumerated() {
            layer.forward(
                self.input(index, input, memory), rows: rows, parameters: parameters, memory: memory.memories[index],
                output: index == layers.count - 1 ? output : memory.outputs[index])
        }
    }

    func backward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        outputDelta: RowBuffer<Scalar>, inputDelta: RowBuffer<Scalar>?
    ) {
        for index in stride(from: layers.count - 1, through: 0, by: -1) {
            layers[index].backward(
                self.input(index, input, memory), rows: rows, parameters: parameters, memory: memory.memories[index],
                outputDelta: delta(index, outputDelta, memory), inputDelta: index == 0 ? inputDelta : memory.deltas[index - 1])
        }
    }

    func squaredGradientNorm(
        example: Int, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) -> Double {
        var total = 0.0
        for (index, layer) in layers.enumerated() {
            total += layer.squaredGradientNorm(
                example: example, input: self.input(index, input, memory), rows: rows, memory: memory.memories[index],
                outputDelta: delta(index, outputDelta, memory))
        }
        return total
    }

    func addGradient(
        example: Int, weight: Scalar, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        for (index, layer) in layers.enumerated() {
            layer.addGradient(
                example: example, weight: weight, input: self.input(index, input, memory), rows: rows,
                memory: memory.memories[index], outputDelta: delta(index, outputDelta, memory), into: gradient)
        }
    }

    func addChunkGradient(
        weights: UnsafePointer<Scalar>, input: RowBuffer<Scalar>, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {}
}
