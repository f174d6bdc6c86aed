import VeilKernels

/// `TiledProduct.product` in `Float` compiled for AVX-512 (F, VL, DQ, BW) with FMA on x86-64 (this
/// target's flags in `Package.swift`): six-row tiles of two `SIMD16` vectors, 6 × 32 columns, twelve
/// 16-lane accumulators in the 32 zmm registers, each term one `vfmadd` on sixteen lanes — twice the
/// lanes per instruction of `VeilWideKernels`' AVX2 tiles, and half as many accumulators again to hide
/// the multiply-adds' latency (six rows measured 12 % faster than four on `learning.gru`). Call it only where
/// `veil_cpu_runs_avx512_kernels()` (`CVeilCPU`) says the CPU runs it — `MatrixKernels` does.
///
/// The entry point is `@inline(never)` so that no caller compiled for another instruction set inlines
/// the loops into its own code. The arithmetic is the other instances' term for term (one fused
/// multiply-add per term, in the same order), so a product equals the fused triple loop bit for bit
/// on any path. `Double` (serving and the reference computations, not training) keeps the AVX2 path.
public enum AVX512Kernels {
    @inline(never)
    public static func product(
        _ a: TiledProduct.Operand<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, into c: UnsafeMutablePointer<Float>,
        _ ldc: Int, m: Int, steps: Int, n: Int, accumulate: Bool
    ) {
        TiledProduct.product(
            a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate, vector: SIMD16<Float>.self,
            height: TiledProduct.SixRowTiles.self, on: AVX512Target.self)
    }
}

/// `GRUGates`' steps in `Float` compiled for AVX-512, sixteen lanes at a time: each e^x, division and
/// state update covers sixteen hidden units per instruction where the AVX2 instance covers eight. The
/// same IEEE operations lane for lane as the other instances (unfused, see `LaneScalar`), so the same
/// bits. Call only where `veil_cpu_runs_avx512_kernels()` says so.
public enum AVX512GRUGates {
    @inline(never)
    public static func forward(_ step: GRUForwardStep<Float>) {
        GRUGates<AVX512Target>.forward(step, vector: SIMD16<Float>.self)
    }

    @inline(never)
    public static func backward(_ step: GRUBackwardStep<Float>) {
        GRUGates<AVX512Target>.backward(step, vector: SIMD16<Float>.self)
    }

    /// `function` of each of `count` values, in place (the tests compare the instances with it).
    @inline(never)
    public static func apply(_ function: LaneFunction, to values: UnsafeMutablePointer<Float>, count: Int) {
        function.apply(to: values, count: count, vector: SIMD16<Float>.self, on: AVX512Target.self)
    }
}
