/// A gated recurrent unit (Cho et al. 2014, as PyTorch's `nn.GRU`) run over each example's rows in
/// order — one row per event, oldest first — from h₋₁ = 0. For input x_t and previous state h:
///
///     r = σ(x_t·W_r + b_xr + h·U_r + b_hr)      z = σ(x_t·W_z + b_xz + h·U_z + b_hz)
///     n = tanh(x_t·W_n + b_xn + r ⊙ (h·U_n + b_hn))      h_t = (1 − z) ⊙ n + z ⊙ h
///
/// and the output row is h_t. Parameters at `parameterOffset`: W (`inputs × 3·hidden`, input-major,
/// gate blocks r | z | n), U (`hidden × 3·hidden`), b_x (`3·hidden`), b_h (`3·hidden`).
///
/// A chunk runs in lock step: examples sorted by length, the ones still running at step t are a
/// prefix, and their recurrent products h·U are one matrix product per step (the input products x·W
/// are one for the whole chunk); the gates' element-wise arithmetic is one pass per example and step
/// (`GateKernels`: `GRUGates` compiled for AVX2 where the CPU runs `VeilWideKernels`, the same bits
/// either way).
///
/// Per-example gradient norm: W, U and the biases are used at every time step, so one example's
/// gradient is a sum over its steps — Σ_t x_t ⊗ δa_t for W, Σ_t h_{t−1} ⊗ δg_t for U — whose terms can
/// cancel. The layer forms that sum for the example (`(inputs + hidden + 2) · 3·hidden` values, as many
/// multiply-adds as the batch gradient needs anyway) and takes its norm: exact, and cheaper on a CPU than
/// a Gram-matrix ghost norm (Σ_{t,s} (x_t·x_s)(δ_t·δ_s), about T²·(inputs + 3·hidden) per example),
/// because the formed sum is then added to the batch gradient instead of being computed again.
struct GRULayer<Scalar: ComputeScalar>: Layer {
    let inputs: Int
    let hidden: Int
    let parameterOffset: Int

    var gates: Int { 3 * hidden }
    var parameterCount: Int { (inputs + hidden + 2) * gates }
    var outputWidth: Int { hidden }
    private var inputWeights: Int { 0 }
    private var recurrentWeights: Int { inputs * gates }
    private var inputBias: Int { (inputs + hidden) * gates }
    private var recurrentBias: Int { inputBias + gates }

    /// What the forward pass keeps for the backward pass, and the per-example gradient.
    final class Memory {
        /// x·W + b_x per row (`3·hidden`).
        let inputProducts: RowBuffer<Scalar>
        /// r, z, n, h·U_n + b_hn and h_{t−1} per row (`5·hidden`).
        let gateValues: RowBuffer<Scalar>
        /// dLoss/d(x·W + b_x) and dLoss/d(h·U + b_h) per row (`3·hidden` each).
        let inputGateDeltas: RowBuffer<Scalar>
        let recurrentGateDeltas: RowBuffer<Scalar>
        /// Lock-step state, one row per example in `order`: h; h·U + b_h for the step; dLoss/dh; the
        /// step's recurrent deltas.
        let state: RowBuffer<Scalar>
        let stepProducts: RowBuffer<Scalar>
        let stateDelta: RowBuffer<Scalar>
        let stepDeltas: RowBuffer<Scalar>
        /// Wᵀ and Uᵀ, for the backward products.
        let inputWeightsTransposed: UnsafeMutablePointer<Scalar>
        let recurrentWeightsTransposed: UnsafeMutablePointer<Scalar>
        /// The chunk's examples, longest first (ties by position).
        var order: [Int] = []
        /// The row of each running example at the current step (`setStepRows`).
        var stepRows: [Int] = []
        /// One example's gradient.
        let gradient: ExampleGradient<Scalar>

        init(layer: GRULayer) {
            inputProducts = RowBuffer(width: layer.gates)
            gateValues = RowBuffer(width: 5 * layer.hidden)
            inputGateDeltas = RowBuffer(width: layer.gates)
            recurrentGateDeltas = RowBuffer(width: layer.gates)
            state = RowBuffer(width: layer.hidden)
            stepProducts = RowBuffer(width: layer.gates)
            stateDelta = RowBuffer(width: layer.hidden)
            stepDeltas = RowBuffer(width: layer.gates)
            inputWeightsTransposed = .allocate(capacity: layer.inputs * layer.gates)
            recurrentWeightsTransposed = .allocate(capacity: layer.hidden * layer.gates)
            gradient = ExampleGradient(count: layer.parameterCount)
        }

        deinit {
            inputWeightsTransposed.deallocate()
            recurrentWeightsTransposed.deallocate()
        }

        /// `stepRows[j]` = the row of example `order[j]` at step `step`, for the `active` running ones.
        func setStepRows(order: [Int], rows: ExampleRows, active: Int, step: Int) {
            stepRows.removeAll(keepingCapacity: true)
            for j in 0..<active { stepRows.append(rows[order[j]].lowerBound + step) }
        }

        func reserve(rows: Int, examples: Int) {
            for buffer in [inputProducts, gateValues, inputGateDeltas, recurrentGateDeltas] { buffer.reserve(rows: rows) }
            for buffer in [state, stepProducts, stateDelta, stepDeltas] { buffer.reserve(rows: examples) }
        }
    }

    func makeMemory() -> Memory { Memory(layer: self) }

    func forward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>
    ) {
        memory.gradient.example = -1
        memory.reserve(rows: rows.rowCount, examples: rows.count)
        let H = hidden, G = gates
        let weights = parameters + parameterOffset
        let products = memory.inputProducts
        for row in 0..<rows.rowCount { products.row(row).update(from: weights + inputBias, count: G) }
        MatrixKernels.multiply(
            input.base, inputs, weights + inputWeights, G, into: products.base, G, m: rows.rowCount, k: inputs, n: G,
            accumulate: true)
        memory.order = (0..<rows.count).sorted { (rows[$0].count, $1) > (rows[$1].count, $0) }
        let order = memory.order
        var active = order.count
        for j in 0..<active { memory.state.row(j).update(repeating: 0, count: H) }
        for t in 0..<(order.first.map { rows[$0].count } ?? 0) {
            while active > 0 && rows[order[active - 1]].count <= t { active -= 1 }
            for j in 0..<active { memory.stepProducts.row(j).update(from: weights + recurrentBias, count: G) }
            if t > 0 {
                MatrixKernels.multiply(
                    memory.state.base, H, weights + recurrentWeights, G, into: memory.stepProducts.base, G,
                    m: active, k: H, n: G, accumulate: true)
            }
            memory.setStepRows(order: order, rows: rows, active: active, step: t)
            memory.stepRows.withUnsafeBufferPointer { stepRows in
                GateKernels.forward(
                    rows: stepRows.baseAddress!, count: active, hidden: H, inputProducts: products.base,
                    stepProducts: memory.stepProducts.base, state: memory.state.base, gateValues: memory.gateValues.base,
                    output: output.base)
            }
        }
    }

    func backward(
        _ input: RowBuffer<Scalar>, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        outputDelta: RowBuffer<Scalar>, inputDelta: RowBuffer<Scalar>?
    ) {
        memory.gradient.example = -1
        let H = hidden, G = gates
        let weights = parameters + parameterOffset
        let order = memory.order
        MatrixKernels.transpose(weights + recurrentWeights, G, into: memory.recurrentWeightsTransposed, m: H, n: G)
        for j in 0..<order.count { memory.stateDelta.row(j).update(repeating: 0, count: H) }
        var active = 0
        for t in stride(from: (order.first.map { rows[$0].count } ?? 0) - 1, through: 0, by: -1) {
            while active < order.count && rows[order[active]].count > t { active += 1 }
            memory.setStepRows(order: order, rows: rows, active: active, step: t)
            memory.stepRows.withUnsafeBufferPointer { stepRows in
                GateKernels.backward(
                    rows: stepRows.baseAddress!, count: active, hidden: H, gateValues: memory.gateValues.base,
                    outputDelta: outputDelta.base, stateDelta: memory.stateDelta.base,
                    inputGateDeltas: memory.inputGateDeltas.base, recurrentGateDeltas: memory.recurrentGateDeltas.base,
                    stepDeltas: memory.stepDeltas.base)
            }
            if t > 0 {
                MatrixKernels.multiply(
                    memory.stepDeltas.base, G, memory.recurrentWeightsTransposed, H, into: memory.stateDelta.base, H,
                    m: active, k: G, n: H, accumulate: true)
            }
        }
        guard let inputDelta else { return }
        MatrixKernels.transpose(weights + inputWeights, G, into: memory.inputWeightsTransposed, m: inputs, n: G)
        MatrixKernels.multiply(
            memory.inputGateDeltas.base, G, memory.inputWeightsTransposed, inputs, into: inputDelta.base, inputs,
            m: rows.rowCount, k: G, n: inputs, accumulate: false)
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
        let H = hidden, G = gates
        let span = rows[example]
        let gradient = memory.gradient.start(example: example)
        if !span.isEmpty {
            let first = span.lowerBound
            MatrixKernels.accumulateOuterProducts(
                input.row(first), inputs, memory.inputGateDeltas.row(first), G, rowWeights: nil,
                into: gradient + inputWeights, G, m: span.count, k: inputs, n: G)
            MatrixKernels.accumulateOuterProducts(
                memory.gateValues.row(first) + 4 * H, 5 * H, memory.recurrentGateDeltas.row(first), G, rowWeights: nil,
                into: gradient + recurrentWeights, G, m: span.count, k: H, n: G)
            for row in span {
                let da = memory.inputGateDeltas.row(row)
                let dg = memory.recurrentGateDeltas.row(row)
                let bx = gradient + inputBias, bh = gradient + recurrentBias
                for k in 0..<G {
                    bx[k] += da[k]
                    bh[k] += dg[k]
                }
            }
        }
    }
}
