import Foundation
import Testing
import VeilCrypto
@testable import VeilLearning

/// The sequence layers (embedding, GRU, temporal convolution and their stack) checked the way DP-SGD
/// uses them, in `Double`, with fixed seeds, on one chunk of examples of different lengths (one empty,
/// two of equal length, one repeating a time step, two identical examples), so weights shared across
/// time steps and embedding rows that repeat within an example are exercised. The loss per example is
/// L_e = Σ_{r ∈ e} Σ_k (c_rk·y_rk + ½·y_rk²) over the layer's output rows y (c fixed, random), so
/// dL/dy = c + y.
///
/// For each layer:
/// - the chunk's gradient (every example weight 1) and the input gradient equal central finite
///   differences of the forward pass (h = 1e-5; |numeric − analytic| ≤ 1e-6 · max(1, |numeric|));
/// - the brute-force per-example gradient — the example run alone in a chunk of its own, its whole
///   gradient written out — equals central differences of L_e, and the squared norm the layer reports
///   for that example inside the full chunk equals the squared norm of that vector to 1e-9 relative;
/// - the weighted sum the layer adds for clip factors w_e = min(1, C/‖g_e‖) equals Σ_e w_e·g_e of the
///   brute-force gradients to 1e-12, and each clipped contribution has norm ≤ C; so does the sum for
///   weights that differ from example to example.
@Suite struct SequenceLayerTests {
    /// Rows per example: an empty example, ties in length, a single-row one.
    static let lengths = [4, 1, 0, 5, 3, 5]
    /// The layers write at this offset of a larger gradient vector, which must stay untouched elsewhere.
    static let offset = 3

    /// A `Float` example gradient's squared norm is summed in `Double`: 40,000 values of 0.1 (about a
    /// GRU's parameter count), each square widened exactly, against their `Double` sum (relative
    /// error < 1e-12). Summed in `Float`, four partial sums of 10,000 terms near 100 are off by about
    /// 1e-5, which fails.
    @Test func floatExampleGradientNormsAreSummedInDouble() {
        let count = 40_000
        let gradient = ExampleGradient<Float>(count: count)
        let values = gradient.start(example: 0)
        for k in 0..<count { values[k] = 0.1 }
        let value = Double(Float(0.1))
        let expected = Double(count) * value * value
        #expect(abs(gradient.squaredNorm - expected) / expected < 1e-12)
    }

    @Test func embeddingGradientsNormsAndClippedSum() throws {
        let tokenCounts = [5, 3, 4]
        let layer = EmbeddingLayer<Double>(tokenCounts: tokenCounts, width: 4, parameterOffset: Self.offset)
        var generator = ChaChaNoiseGenerator(seed: 11)
        // Small vocabularies over 18 rows: tokens repeat within examples and across them; example 4
        // (rows 10..<13) uses one item three times, and examples 3 and 5 are the same sequence.
        var tokens: [Int32] = (0..<(18 * 3)).map { Int32(Int.random(in: 0..<tokenCounts[$0 % 3], using: &generator)) }
        for row in 10..<13 { tokens[row * 3] = 2 }
        for k in 0..<(5 * 3) { tokens[13 * 3 + k] = tokens[5 * 3 + k] }
        let storage = UnsafeMutablePointer<Int32>.allocate(capacity: tokens.count)
        defer { storage.deallocate() }
        storage.update(from: tokens, count: tokens.count)
        let harness = LayerHarness(
            layer: layer, input: TokenRows(base: storage, fields: 3), lengths: Self.lengths, seed: 12,
            slice: { input, rows in TokenRows(base: input.base + rows.lowerBound * input.fields, fields: input.fields) })
        harness.checkAll()

        // The brute-force gradient of example 4, formed here from the definition (scatter-add each row's
        // dL/dy into the rows of the tables it read): the repeated item's row gets three rows' signals.
        let run = harness.run(parameters: harness.parameters)
        var expected = [Double](repeating: 0, count: harness.vectorCount)
        let tableStarts = [0, 5 * 4, 8 * 4]
        for row in harness.rows[4] {
            for field in 0..<3 {
                let start = Self.offset + tableStarts[field] + Int(tokens[row * 3 + field]) * 4
                for k in 0..<4 { expected[start + k] += run.outputDelta.row(row)[k] }
            }
        }
        let reported = layer.squaredGradientNorm(
            example: 4, input: harness.input, rows: harness.rows, memory: run.memory, outputDelta: run.outputDelta)
        #expect(relativeError(reported, squaredNorm(expected)) < 1e-9)
        // Squaring row by row (the mistake the layer avoids) would give a different value here.
        var rowByRow = 0.0
        for row in harness.rows[4] { rowByRow += 3 * (0..<4).reduce(0) { $0 + pow(run.outputDelta.row(row)[$1], 2) } }
        #expect(relativeError(rowByRow, reported) > 1e-3)
    }

    /// Hidden 4 (one partial block of eight lanes) and 11 (a whole block and a partial one).
    @Test func gruGradientsNormsAndClippedSum() throws {
        for hidden in [4, 11] {
            let layer = GRULayer<Double>(inputs: 3, hidden: hidden, parameterOffset: Self.offset)
            let harness = LayerHarness(
                layer: layer, input: Self.rowsInput(width: 3, seed: 21), lengths: Self.lengths, seed: 22,
                slice: Self.sliceRows)
            harness.checkAll()
            harness.checkInputGradient()
        }
    }

    @Test func temporalConvolutionGradientsNormsAndClippedSum() throws {
        for (width, dilation) in [(1, 1), (3, 1), (2, 2), (3, 2)] {
            let layer = TemporalConvolutionLayer<Double>(
                inputs: 3, outputs: 4, width: width, dilation: dilation, parameterOffset: Self.offset)
            let harness = LayerHarness(
                layer: layer, input: Self.rowsInput(width: 3, seed: 31), lengths: Self.lengths, seed: 32,
                slice: Self.sliceRows)
            harness.checkAll()
            harness.checkInputGradient()
        }
    }

    @Test func convolutionStackGradientsNormsAndClippedSum() throws {
        let stack = ConvolutionStack<Double>(inputs: 3, channels: 4, width: 2, depth: 3, parameterOffset: Self.offset)
        #expect(stack.layers.map(\.dilation) == [1, 2, 4])
        let harness = LayerHarness(
            layer: stack, input: Self.rowsInput(width: 3, seed: 41), lengths: Self.lengths, seed: 42,
            slice: Self.sliceRows)
        harness.checkAll()
        harness.checkInputGradient()
    }

    /// The dense head read at every time step (its weights shared across an example's rows), and read
    /// once per example. Lengths [2, 0, 1, 1] have as many rows as examples without one row each.
    @Test func denseHeadGradientsNormsAndClippedSum() throws {
        for lengths in [Self.lengths, [2, 0, 1, 1], [1, 1, 1]] {
            let layer = DenseLayer<Double>(
                inputs: 3, outputs: 2, activation: .identity, inputActivation: .identity, parameterOffset: Self.offset)
            let harness = LayerHarness(
                layer: layer, input: Self.rowsInput(width: 3, seed: 51), lengths: lengths, seed: 52, slice: Self.sliceRows)
            harness.checkAll()
            harness.checkInputGradient()
        }
    }

    /// Random input rows for `lengths`, with a repeated time step in example 4 (rows 10 and 11) and
    /// examples 3 and 5 identical (rows 5..<10 and 13..<18).
    static func rowsInput(width: Int, seed: UInt64) -> RowBuffer<Double> {
        var generator = ChaChaNoiseGenerator(seed: seed)
        let count = lengths.reduce(0, +)
        let buffer = RowBuffer<Double>(width: width, rows: count)
        for k in 0..<(count * width) { buffer.base[k] = Double.random(in: -1...1, using: &generator) }
        buffer.row(11).update(from: buffer.row(10), count: width)
        buffer.row(13).update(from: buffer.row(5), count: 5 * width)
        return buffer
    }

    static func sliceRows(_ input: RowBuffer<Double>, _ rows: Range<Int>) -> RowBuffer<Double> {
        let slice = RowBuffer<Double>(width: input.width, rows: rows.count)
        slice.base.update(from: input.row(rows.lowerBound), count: rows.count * input.width)
        return slice
    }
}

func squaredNorm(_ values: [Double]) -> Double { values.reduce(0) { $0 + $1 * $1 } }

func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(a), abs(b), 1e-300) }

/// One layer run as a model runs it, on a fixed chunk, with the test loss described on
/// `SequenceLayerTests`.
struct LayerHarness<L: Layer> where L.Scalar == Double {
    let layer: L
    let input: L.Input
    let rows: ExampleRows
    let parameters: [Double]
    /// c, one value per output row and column.
    let coefficients: [Double]
    /// Example `e`'s input alone, given the rows it owns.
    let slice: (L.Input, Range<Int>) -> L.Input

    /// Length of the gradient vector the layer writes into (its parameters sit at `parameterOffset`).
    var vectorCount: Int { layer.parameterOffset + layer.parameterCount + 2 }

    init(layer: L, input: L.Input, lengths: [Int], seed: UInt64, slice: @escaping (L.Input, Range<Int>) -> L.Input) {
        self.layer = layer
        self.input = input
        var rows = ExampleRows()
        rows.setLengths(lengths)
        self.rows = rows
        var generator = ChaChaNoiseGenerator(seed: seed)
        parameters = (0..<(layer.parameterOffset + layer.parameterCount + 2)).map { _ in
            Double.random(in: -0.8...0.8, using: &generator)
        }
        coefficients = (0..<(rows.rowCount * layer.outputWidth)).map { _ in Double.random(in: -1...1, using: &generator) }
        self.slice = slice
    }

    struct Run {
        let memory: L.Memory
        let output: RowBuffer<Double>
        let outputDelta: RowBuffer<Double>
        let loss: Double
    }

    /// Forward and backward over `rows` (the whole chunk unless given), with `coefficients` starting at
    /// row `firstRow`.
    func run(
        parameters: [Double], input: L.Input? = nil, rows: ExampleRows? = nil, firstRow: Int = 0,
        inputDelta: RowBuffer<Double>? = nil
    ) -> Run {
        let input = input ?? self.input
        let rows = rows ?? self.rows
        let memory = layer.makeMemory()
        let width = layer.outputWidth
        let output = RowBuffer<Double>(width: width, rows: rows.rowCount)
        let delta = RowBuffer<Double>(width: width, rows: rows.rowCount)
        var loss = 0.0
        parameters.withUnsafeBufferPointer { p in
            layer.forward(input, rows: rows, parameters: p.baseAddress!, memory: memory, output: output)
            for row in 0..<rows.rowCount {
                for k in 0..<width {
                    let y = output.row(row)[k]
                    let c = coefficients[(firstRow + row) * width + k]
                    loss += c * y + 0.5 * y * y
                    delta.row(row)[k] = c + y
                }
            }
            layer.backward(
                input, rows: rows, parameters: p.baseAddress!, memory: memory, outputDelta: delta, inputDelta: inputDelta)
        }
        return Run(memory: memory, output: output, outputDelta: delta, loss: loss)
    }

    /// The loss of example `example` alone (nil: the whole chunk's).
    func loss(parameters: [Double], example: Int? = nil) -> Double {
        guard let example else { return run(parameters: parameters).loss }
        return runAlone(example, parameters: parameters).loss
    }

    /// Example `example` in a chunk of its own.
    func runAlone(_ example: Int, parameters: [Double]) -> Run {
        let span = rows[example]
        var alone = ExampleRows()
        alone.setLengths([span.count])
        return run(parameters: parameters, input: slice(input, span), rows: alone, firstRow: span.lowerBound)
    }

    /// The brute-force gradient of example `example`: run alone, its whole gradient written out.
    func perExampleGradient(_ example: Int) -> [Double] {
        let span = rows[example]
        var alone = ExampleRows()
        alone.setLengths([span.count])
        let piece = slice(input, span)
        let run = runAlone(example, parameters: parameters)
        return gradient(run: run, input: piece, rows: alone, weights: [1], takeNorms: false)
    }

    /// Σ_e weights[e]·g_e as the layer adds it for `rows` (norms first when `takeNorms`, as DP-SGD does).
    func gradient(run: Run, input: L.Input, rows: ExampleRows, weights: [Double], takeNorms: Bool) -> [Double] {
        var vector = [Double](repeating: 0, count: vectorCount)
        vector.withUnsafeMutableBufferPointer { v in
            for example in 0..<rows.count {
                if takeNorms {
                    _ = layer.squaredGradientNorm(
                        example: example, input: input, rows: rows, memory: run.memory, outputDelta: run.outputDelta)
                }
                layer.addGradient(
                    example: example, weight: weights[example], input: input, rows: rows, memory: run.memory,
                    outputDelta: run.outputDelta, into: v.baseAddress!)
            }
            weights.withUnsafeBufferPointer { w in
                layer.addChunkGradient(
                    weights: w.baseAddress!, input: input, rows: rows, memory: run.memory, outputDelta: run.outputDelta,
                    into: v.baseAddress!)
            }
        }
        return vector
    }

    func finiteDifference(_ f: ([Double]) -> Double, at point: [Double], h: Double = 1e-5) -> [Double] {
        var numeric = [Double](repeating: 0, count: point.count)
        for k in point.indices {
            var plus = point, minus = point
            plus[k] += h
            minus[k] -= h
            numeric[k] = (f(plus) - f(minus)) / (2 * h)
        }
        return numeric
    }

    func expectClose(_ analytic: [Double], _ numeric: [Double], _ what: String) {
        #expect(analytic.count == numeric.count)
        for k in numeric.indices {
            #expect(abs(numeric[k] - analytic[k]) <= 1e-6 * max(1, abs(numeric[k])), "\(what), index \(k)")
        }
    }

    /// The three checks on `SequenceLayerTests`, for the parameters. The clip bound C is the median of the
    /// non-empty examples' gradient norms, so some are clipped and some are not.
    func checkAll() {
        let parameterRange = layer.parameterOffset..<(layer.parameterOffset + layer.parameterCount)
        let full = run(parameters: parameters)
        let chunkGradient = gradient(
            run: full, input: input, rows: rows, weights: [Double](repeating: 1, count: rows.count), takeNorms: false)
        let numeric = finiteDifference({ loss(parameters: $0) }, at: parameters)
        expectClose(chunkGradient, numeric, "chunk gradient")
        // Outside its own slice the layer writes nothing (and the loss does not depend on it).
        for k in chunkGradient.indices where !parameterRange.contains(k) { #expect(chunkGradient[k] == 0) }

        let perExample = (0..<rows.count).map(perExampleGradient)
        let norms = perExample.map { squaredNorm($0).squareRoot() }
        // (A short example can have a zero gradient: every ReLU of a convolution off.)
        let nonEmpty = norms.filter { $0 > 0 }.sorted()
        let clip = nonEmpty[nonEmpty.count / 2]
        for example in 0..<rows.count {
            let brute = perExample[example]
            let numericExample = finiteDifference({ loss(parameters: $0, example: example) }, at: parameters)
            expectClose(brute, numericExample, "example \(example)'s gradient")
            let reported = layer.squaredGradientNorm(
                example: example, input: input, rows: rows, memory: full.memory, outputDelta: full.outputDelta)
            let expected = squaredNorm(brute)
            if rows[example].isEmpty {
                #expect(reported == 0 && expected == 0)
            } else {
                #expect(relativeError(reported, expected) < 1e-9, "example \(example): \(reported) vs \(expected)")
            }
        }

        let weights = norms.map { $0 > clip ? clip / $0 : 1 }
        #expect(weights.contains { $0 < 1 } && nonEmpty.contains { $0 <= clip }, "some examples are clipped, some not")
        var expected = [Double](repeating: 0, count: vectorCount)
        for (gradient, weight) in zip(perExample, weights) {
            let contribution = gradient.map { $0 * weight }
            #expect(squaredNorm(contribution).squareRoot() <= clip * (1 + 1e-12))
            for k in expected.indices { expected[k] += contribution[k] }
        }
        let summed = gradient(run: full, input: input, rows: rows, weights: weights, takeNorms: true)
        for k in expected.indices {
            #expect(abs(summed[k] - expected[k]) <= 1e-12 * max(1, abs(expected[k])), "clipped sum, index \(k)")
        }
        // Every example a different weight (as 1/B for SGD, but distinct), so a weight applied to the
        // wrong example's rows shows.
        let distinct = (0..<rows.count).map { 1 / Double($0 + 2) }
        let weighted = gradient(run: full, input: input, rows: rows, weights: distinct, takeNorms: false)
        for k in expected.indices {
            let reference = zip(perExample, distinct).reduce(0) { $0 + $1.0[k] * $1.1 }
            #expect(abs(weighted[k] - reference) <= 1e-12 * max(1, abs(reference)), "weighted sum, index \(k)")
        }
    }
}

extension LayerHarness where L.Input == RowBuffer<Double> {
    /// dL/d(input) from `backward` against central differences over every input value.
    func checkInputGradient() {
        let inputWidth = input.width
        let count = rows.rowCount * inputWidth
        let inputDelta = RowBuffer<Double>(width: inputWidth, rows: rows.rowCount)
        _ = run(parameters: parameters, inputDelta: inputDelta)
        let analytic = Array(UnsafeBufferPointer(start: inputDelta.base, count: count))
        let point = Array(UnsafeBufferPointer(start: input.base, count: count))
        let numeric = finiteDifference(
            { values in
                let moved = RowBuffer<Double>(width: inputWidth, rows: rows.rowCount)
                moved.base.update(from: values, count: count)
                return run(parameters: parameters, input: moved).loss
            }, at: point)
        expectClose(analytic, numeric, "input gradient")
    }
}
