/// The inner loops of a dense layer over a chunk of rows, on raw pointers (no bounds checks, no
/// allocation). Matrices are row-major; weights are input-major (`w[i * outputs + o]`).
///
/// Reductions use four partial sums; the forward product is `MatrixKernels`' tiled kernel. Generic over
/// the precision; every caller inside the module names a concrete type, so the loops are specialised.
enum DenseKernels {
    /// `output[b, o] = bias[o] + Σ_i input[b, i] · w[i, o]` for every row `b < rows`, summed in `i` order
    /// after the bias. A layer with one output takes each row's dot product (four partial sums); a wider
    /// one starts every row at the bias and runs `MatrixKernels.multiply`'s register-tiled product over
    /// the whole chunk — the same terms added in the same order, by the same rule (`ProductScalar`:
    /// fused in `Float`), as a row-by-row loop, bit for bit.
    static func forward<Scalar: ComputeScalar>(
        input: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>, bias: UnsafePointer<Scalar>,
        output: UnsafeMutablePointer<Scalar>, rows: Int, inputs: Int, outputs: Int
    ) {
        if outputs == 1 {
            for row in 0..<rows { output[row] = bias[0] + dot(input + row * inputs, weights, inputs) }
            return
        }
        for row in 0..<rows { (output + row * outputs).update(from: bias, count: outputs) }
        MatrixKernels.multiply(
            input, inputs, weights, outputs, into: output, outputs, m: rows, k: inputs, n: outputs, accumulate: true)
    }

    /// `values[k] = max(0, values[k])` for `k < count`, as (x + |x|) · ½: exactly x for 0 < x ≤ half the
    /// largest finite value (doubling and halving are exact) and +0 for x ≤ 0 (a negative zero becomes
    /// +0, whose sign no result sees: every sum it enters starts at a bias or +0). Arithmetic only, so the
    /// loop vectorises; a compare and select here compiled to a branch per value.
    static func relu<Scalar: BinaryFloatingPoint>(_ values: UnsafeMutablePointer<Scalar>, count: Int) {
        for k in 0..<count { values[k] = (values[k] + values[k].magnitude) * 0.5 }
    }

    /// Backpropagates through the layer, and through the ReLU before it when `inputIsReLU`:
    /// `inputDelta[b, i] = (Σ_o delta[b, o] · w[i, o]) · (inputIsReLU ? [input[b, i] > 0] : 1)`.
    static func backward<Scalar: BinaryFloatingPoint>(
        delta: UnsafePointer<Scalar>, weights: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>,
        inputDelta: UnsafeMutablePointer<Scalar>, rows: Int, inputs: Int, outputs: Int, inputIsReLU: Bool
    ) {
        for row in 0..<rows {
            let d = delta + row * outputs
            let x = input + row * inputs
            let result = inputDelta + row * inputs
            if outputs == 1 {
                // `dot` of one term is (0 + d·w) + 0 + 0: d·w with a negative zero made positive, as `+ 0`
                // does. Written out so the loop over the inputs vectorises.
                let d0 = d[0]
                for i in 0..<inputs {
                    let value = d0 * weights[i] + 0
                    result[i] = !inputIsReLU || x[i] > 0 ? value : 0
                }
            } else if inputIsReLU {
                for i in 0..<inputs {
                    result[i] = x[i] > 0 ? dot(d, weights + i * outputs, outputs) : 0
                }
            } else {
                for i in 0..<inputs { result[i] = dot(d, weights + i * outputs, outputs) }
            }
        }
    }

    /// `Σ_k values[k]²` summed in `Double` (each value widened before it is squared) with four partial
    /// sums, in the order `dot` adds: for `Double` values the same bits as `dot(values, values, count)`;
    /// for `Float` values a norm whose rounding is `Double`'s (relative ≈ count · 2⁻⁵³), not `Float`'s
    /// (up to count/4 · 2⁻²⁴ — 3 · 10⁻⁴ over a GRU's 18,800 parameters), so a clip weight min(1, C/‖g‖)
    /// taken from it scales the example to norm C up to the rounding of the weighted add itself.
    @inline(__always)
    static func squaredNorm<Scalar: BinaryFloatingPoint>(_ values: UnsafePointer<Scalar>, _ count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var k = 0
        while k + 4 <= count {
            let v0 = Double(values[k]), v1 = Double(values[k + 1]), v2 = Double(values[k + 2]), v3 = Double(values[k + 3])
            s0 += v0 * v0
            s1 += v1 * v1
            s2 += v2 * v2
            s3 += v3 * v3
            k += 4
        }
        while k < count {
            let v = Double(values[k])
            s0 += v * v
            k += 1
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// `Σ_k a[k] · b[k]` with four partial sums.
    @inline(__always)
    static func dot<Scalar: BinaryFloatingPoint>(
        _ a: UnsafePointer<Scalar>, _ b: UnsafePointer<Scalar>, _ count: Int
    ) -> Scalar {
        var s0: Scalar = 0, s1: Scalar = 0, s2: Scalar = 0, s3: Scalar = 0
        var k = 0
        while k + 4 <= count {
            s0 += a[k] * b[k]
            s1 += a[k + 1] * b[k + 1]
            s2 += a[k + 2] * b[k + 2]
            s3 += a[k + 3] * b[k + 3]
            k += 4
        }
        while k < count {
            s0 += a[k] * b[k]
            k += 1
        }
        return (s0 + s1) + (s2 + s3)
    }
}
