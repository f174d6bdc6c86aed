/// The inner loops of a dense layer over a batch of rows, on raw pointers (no bounds checks, no
/// allocation). Matrices are row-major; weights are input-major (`w[i * outputs + o]`).
///
/// Loops that write along `outputs` are written as axpy updates so the compiler can vectorise them
/// without reassociating sums; reductions use four partial sums. Exact zeros in the input (ReLU outputs)
/// are skipped, which changes no result.
enum DenseKernels {
    /// `output[b, o] = bias[o] + Σ_i input[b, i] · w[i, o]` for every row `b < rows`.
    static func forward(
        input: UnsafePointer<Double>, weights: UnsafePointer<Double>, bias: UnsafePointer<Double>,
        output: UnsafeMutablePointer<Double>, rows: Int, inputs: Int, outputs: Int
    ) {
        for row in 0..<rows {
            let x = input + row * inputs
            let z = output + row * outputs
            if outputs == 1 {
                z[0] = bias[0] + dot(x, weights, inputs)
                continue
            }
            z.update(from: bias, count: outputs)
            for i in 0..<inputs {
                let value = x[i]
                if value == 0 { continue }
                let w = weights + i * outputs
                for o in 0..<outputs { z[o] += value * w[o] }
            }
        }
    }

    /// `values[k] = max(0, values[k])` for `k < count`.
    static func relu(_ values: UnsafeMutablePointer<Double>, count: Int) {
        for k in 0..<count where values[k] < 0 { values[k] = 0 }
    }

    /// Backpropagates through the layer and the ReLU before it:
    /// `inputDelta[b, i] = (Σ_o delta[b, o] · w[i, o]) · [input[b, i] > 0]`.
    static func backward(
        delta: UnsafePointer<Double>, weights: UnsafePointer<Double>, input: UnsafePointer<Double>,
        inputDelta: UnsafeMutablePointer<Double>, rows: Int, inputs: Int, outputs: Int
    ) {
        for row in 0..<rows {
            let d = delta + row * outputs
            let x = input + row * inputs
            let result = inputDelta + row * inputs
            for i in 0..<inputs {
                result[i] = x[i] > 0 ? dot(d, weights + i * outputs, outputs) : 0
            }
        }
    }

    /// Adds `Σ_b rowWeight[b] · input[b] ⊗ delta[b]` to the weight gradient and
    /// `Σ_b rowWeight[b] · delta[b]` to the bias gradient.
    static func accumulateGradient(
        input: UnsafePointer<Double>, delta: UnsafePointer<Double>, rowWeights: UnsafePointer<Double>,
        weightGradient: UnsafeMutablePointer<Double>, biasGradient: UnsafeMutablePointer<Double>,
        rows: Int, inputs: Int, outputs: Int
    ) {
        for row in 0..<rows {
            let weight = rowWeights[row]
            if weight == 0 { continue }
            let x = input + row * inputs
            let d = delta + row * outputs
            for o in 0..<outputs { biasGradient[o] += weight * d[o] }
            for i in 0..<inputs {
                let value = weight * x[i]
                if value == 0 { continue }
                let g = weightGradient + i * outputs
                for o in 0..<outputs { g[o] += value * d[o] }
            }
        }
    }

    /// `squaredNorms[b] += (‖input[b]‖² + 1) · ‖delta[b]‖²`: this layer's share of each row's squared
    /// gradient norm (weights, plus the bias whose "input" is the constant 1).
    static func accumulateGhostSquaredNorms(
        input: UnsafePointer<Double>, delta: UnsafePointer<Double>, squaredNorms: UnsafeMutablePointer<Double>,
        rows: Int, inputs: Int, outputs: Int
    ) {
        for row in 0..<rows {
            let x = input + row * inputs
            let d = delta + row * outputs
            squaredNorms[row] += (dot(x, x, inputs) + 1) * dot(d, d, outputs)
        }
    }

    /// `Σ_k a[k] · b[k]` with four partial sums.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
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
