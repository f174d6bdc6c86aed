import CVeilCPU
import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

/// `MatrixKernels`' register-tiled products against the triple loop, bit for bit, in `Float` and
/// `Double`, on every path the CPU runs — the baseline (SSE2) instance, the wide (AVX2 with FMA,
/// four-row tiles of 8-lane vectors) one and the AVX-512 one (six-row tiles of 16-lane vectors): every
/// result element is summed in index order, in `Float` each term one fused multiply-add (the loop here
/// calls libm's `fmaf`, correctly rounded), in `Double` a multiply then an add, whatever the tile edges
/// and the instruction set. The shapes cover full tiles, the last rows after the full tiles (1 to 5 rows
/// after six-row tiles, 1 to 3 after four-row ones),
/// columns past the last two-vector and one-vector blocks of either width (n = 17, 40, 48, 70), row
/// strides wider than the rows, k = 0 and 1, accumulating into old values and overwriting them, and the
/// outer products with and without row weights, one contiguous column among them (a sigmoid head's
/// weights).
@Suite struct MatrixKernelsTests {
    /// (m, k, n): rows of the result, the shared dimension, columns of the result.
    static let shapes = [
        (16, 64, 192), (9, 5, 17), (4, 8, 8), (1, 3, 7), (6, 1, 24), (5, 0, 9), (13, 11, 3), (3, 33, 40), (7, 50, 32),
        (19, 40, 1), (5, 7, 70), (4, 9, 48),
    ]

    /// c + a·b by the rule of `S` (`ProductScalar`), written independently of it: `Float` through libm's
    /// `fmaf` (the exact a·b + c rounded once), `Double` as a rounded multiply, then a rounded add.
    static func term<S: ComputeScalar>(_ c: S, _ a: S, _ b: S) -> S {
        if let (c, a, b) = (c, a, b) as? (Float, Float, Float) { return fmaf(a, b, c) as! S }
        return c + a * b
    }

    @Test(arguments: MatrixKernels.Path.available, [false, true])
    func multiplyEqualsTheTripleLoop(path: MatrixKernels.Path, accumulate: Bool) {
        check(Float.self, accumulate: accumulate, path: path)
        check(Double.self, accumulate: accumulate, path: path)
    }

    @Test(arguments: MatrixKernels.Path.available, [false, true])
    func outerProductsEqualTheTripleLoop(path: MatrixKernels.Path, weighted: Bool) {
        checkOuter(Float.self, weighted: weighted, path: path)
        checkOuter(Double.self, weighted: weighted, path: path)
    }

    /// The rule is in force on every path, not merely consistent: on the GRU's 16 × 64 · 64 × 192 shape
    /// the `Float` product differs from the unfused loop (a multiply, then an add) in some element, and the
    /// `Double` product from the fused one (`fma`), while each equals its own rule's loop (above).
    @Test(arguments: MatrixKernels.Path.available)
    func floatFusesAndDoubleDoesNot(path: MatrixKernels.Path) {
        let (m, k, n) = (16, 64, 192)
        func product<S: ComputeScalar>(_: S.Type) -> (result: [S], a: [S], b: [S]) {
            let a: [S] = Self.values(m * k, seed: 7), b: [S] = Self.values(k * n, seed: 8)
            var c = [S](repeating: 0, count: m * n)
            MatrixKernels.multiply(a, k, b, n, into: &c, n, m: m, k: k, n: n, accumulate: false, path: path)
            return (c, a, b)
        }
        let float = product(Float.self)
        let double = product(Double.self)
        var floatDiffersFromUnfused = false, doubleDiffersFromFused = false
        for i in 0..<m {
            for j in 0..<n {
                var unfused: Float = 0
                var fused = 0.0
                for p in 0..<k {
                    unfused += float.a[i * k + p] * float.b[p * n + j]
                    fused = fma(double.a[i * k + p], double.b[p * n + j], fused)
                }
                floatDiffersFromUnfused = floatDiffersFromUnfused || float.result[i * n + j] != unfused
                doubleDiffersFromFused = doubleDiffersFromFused || double.result[i * n + j] != fused
            }
        }
        #expect(floatDiffersFromUnfused, "\(path): Float product equals the unfused loop everywhere")
        #expect(doubleDiffersFromFused, "\(path): Double product equals the fused loop everywhere")
    }

    /// The CPU checks agree with the kernel's own report of the CPU (Linux: `/proc/cpuinfo`'s flags, which
    /// list avx2 and fma only where the kernel saves the ymm registers, and the avx512 flags only where it
    /// saves the zmm and opmask registers).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/cpuinfo"), "no /proc/cpuinfo"))
    func theCPUCheckAgreesWithTheKernel() throws {
        #if arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let wide = flags.isSuperset(of: ["avx2", "fma"])
        #expect((veil_cpu_runs_wide_kernels() != 0) == wide)
        let avx512 = wide && flags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"])
        #expect((veil_cpu_runs_avx512_kernels() != 0) == avx512)
        #expect(MatrixKernels.Path.available == [.baseline] + (wide ? [.wide] : []) + (avx512 ? [.avx512] : []))
        #endif
    }

    /// The layers take the newest path the CPU runs, unless `VEIL_KERNELS` caps it (`baseline`, `wide`; an
    /// unknown name caps nothing).
    @Test func theDefaultPathFollowsTheCPU() throws {
        let newest = try #require(MatrixKernels.Path.available.last)
        #expect(MatrixKernels.defaultPath(cap: nil) == newest)
        #expect(MatrixKernels.defaultPath(cap: "avx512") == newest)
        #expect(MatrixKernels.defaultPath(cap: "baseline") == .baseline)
        #expect(MatrixKernels.defaultPath(cap: "wide") == (veil_cpu_runs_wide_kernels() != 0 ? .wide : .baseline))
        #expect(MatrixKernels.defaultPath(cap: "fastest") == newest)
        #expect(MatrixKernels.defaultPath == MatrixKernels.defaultPath(cap: ProcessInfo.processInfo.environment["VEIL_KERNELS"]))
    }

    /// `KernelCap.check`, which `veil` and `VeilBench` run first: unset or a path's name passes; any other
    /// value is refused, naming the variable and the names, never the value.
    @Test func aCapThatNamesNoPathIsRefusedWithoutEchoingIt() throws {
        for value in [nil, "baseline", "wide", "avx512"] {
            #expect(throws: Never.self) { try KernelCap.check(value.map { ["VEIL_KERNELS": $0] } ?? [:]) }
        }
        for value in ["wdie", "AVX2", "", "baseline "] {
            let error = try #require(throws: VeilError.self) { try KernelCap.check(["VEIL_KERNELS": value, "OTHER": "x"]) }
            #expect(error.field == "VEIL_KERNELS")
            #expect(error.message.contains("baseline, wide, avx512"))
            if !value.isEmpty { #expect(!error.message.contains(value)) }
        }
    }

    /// Random values in ±1 whose products round (so a reordered sum would show).
    private static func values<S: ComputeScalar>(_ count: Int, seed: UInt64) -> [S] {
        var generator = ChaChaNoiseGenerator(seed: seed)
        return (0..<count).map { _ in S(Double.random(in: -1...1, using: &generator)) }
    }

    private func check<S: ComputeScalar>(_: S.Type, accumulate: Bool, path: MatrixKernels.Path) {
        for (index, (m, k, n)) in Self.shapes.enumerated() {
            let lda = k + 2, ldb = n + 3, ldc = n + 1
            let a: [S] = Self.values(m * lda, seed: UInt64(10 + index))
            let b: [S] = Self.values(max(k, 1) * ldb, seed: UInt64(30 + index))
            let old: [S] = Self.values(m * ldc, seed: UInt64(50 + index))
            var expected = old
            for i in 0..<m {
                for j in 0..<n {
                    var sum: S = accumulate ? old[i * ldc + j] : 0
                    for p in 0..<k { sum = Self.term(sum, a[i * lda + p], b[p * ldb + j]) }
                    expected[i * ldc + j] = sum
                }
            }
            var result = old
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    result.withUnsafeMutableBufferPointer { c in
                        MatrixKernels.multiply(
                            a.baseAddress!, lda, b.baseAddress!, ldb, into: c.baseAddress!, ldc, m: m, k: k, n: n,
                            accumulate: accumulate, path: path)
                    }
                }
            }
            #expect(result == expected, "\(S.self) \(path) m \(m) k \(k) n \(n) accumulate \(accumulate)")
        }
    }

    private func checkOuter<S: ComputeScalar>(_: S.Type, weighted: Bool, path: MatrixKernels.Path) {
        // Here m is the rows summed over and k × n the result, as in a per-example weight gradient.
        for (index, (k, m, n)) in Self.shapes.enumerated() {
            let lda = k + 2, ldb = n + 3, ldc = n + 1
            let a: [S] = Self.values(max(m, 1) * lda, seed: UInt64(70 + index))
            let b: [S] = Self.values(max(m, 1) * ldb, seed: UInt64(90 + index))
            let weights: [S] = Self.values(max(m, 1), seed: UInt64(110 + index))
            let old: [S] = Self.values(k * ldc, seed: UInt64(130 + index))
            var expected = old
            for p in 0..<k {
                for j in 0..<n {
                    var sum = old[p * ldc + j]
                    for r in 0..<m { sum = Self.term(sum, (weighted ? weights[r] : 1) * a[r * lda + p], b[r * ldb + j]) }
                    expected[p * ldc + j] = sum
                }
            }
            var result = old
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    weights.withUnsafeBufferPointer { w in
                        result.withUnsafeMutableBufferPointer { c in
                            MatrixKernels.accumulateOuterProducts(
                                a.baseAddress!, lda, b.baseAddress!, ldb, rowWeights: weighted ? w.baseAddress! : nil,
                                into: c.baseAddress!, ldc, m: m, k: k, n: n, path: path)
                        }
                    }
                }
            }
            #expect(result == expected, "\(S.self) \(path) m \(m) k \(k) n \(n) weighted \(weighted)")
        }
    }

    /// A dense layer's forward pass (bias, then the tiled product) against the row-by-row loop that starts
    /// each output at its bias and adds the inputs' terms in order (by `term`), bit for bit.
    @Test func denseForwardEqualsTheRowLoop() {
        denseForward(Float.self)
        denseForward(Double.self)
    }

    private func denseForward<S: ComputeScalar>(_: S.Type) {
        for (index, (rows, inputs, outputs)) in [(64, 40, 64), (7, 19, 27), (5, 3, 1), (3, 40, 1), (2, 0, 9)].enumerated() {
            let input: [S] = Self.values(max(rows * inputs, 1), seed: UInt64(150 + index))
            let weights: [S] = Self.values(max(inputs * outputs, 1), seed: UInt64(170 + index))
            let bias: [S] = Self.values(outputs, seed: UInt64(190 + index))
            var expected = [S](repeating: 0, count: rows * outputs)
            for row in 0..<rows {
                for o in 0..<outputs {
                    var sum = bias[o]
                    for i in 0..<inputs { sum = Self.term(sum, input[row * inputs + i], weights[i * outputs + o]) }
                    expected[row * outputs + o] = sum
                }
            }
            var result = [S](repeating: .nan, count: rows * outputs)
            input.withUnsafeBufferPointer { input in
                weights.withUnsafeBufferPointer { weights in
                    bias.withUnsafeBufferPointer { bias in
                        result.withUnsafeMutableBufferPointer { output in
                            DenseKernels.forward(
                                input: input.baseAddress!, weights: weights.baseAddress!, bias: bias.baseAddress!,
                                output: output.baseAddress!, rows: rows, inputs: inputs, outputs: outputs)
                        }
                    }
                }
            }
            if outputs == 1 {
                // One output: each row is a dot product with four partial sums, not the ordered loop.
                for row in 0..<rows {
                    #expect(abs(result[row] - expected[row]) <= S(inputs) * S.ulpOfOne * 4, "\(S.self) \(rows)×\(inputs)")
                }
            } else {
                #expect(result == expected, "\(S.self) rows \(rows) inputs \(inputs) outputs \(outputs)")
            }
        }
    }
}
