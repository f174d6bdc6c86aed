import VeilKernels

/// `TiledProduct.product` compiled for AVX2 on x86-64 (this target's flags in `Package.swift`), in
/// four-row tiles: sixteen 8-wide registers hold eight accumulators, where the SSE2 baseline holds
/// four. Call it only where `veil_cpu_runs_wide_kernels()` (`CVeilCPU`) says the CPU runs it —
/// `MatrixKernels` does.
///
/// The entry points are `@inline(never)` so that no caller compiled for the baseline inlines the loops
/// into its own code: they are compiled here, once, for this target. The arithmetic is the baseline's
/// term for term (a multiply, then an add, in the same order; no fused multiply-add), so a product
/// equals the textbook triple loop bit for bit on either path.
public enum WideKernels {
    @inline(never)
    public static func product(
        _ a: TiledProduct.Operand<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, into c: UnsafeMutablePointer<Float>,
        _ ldc: Int, m: Int, steps: Int, n: Int, accumulate: Bool
    ) {
        TiledProduct.product(
            a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate, height: TiledProduct.FourRowTiles.self)
    }

    /// `Double`: an 8-wide vector is two AVX2 registers, so two-row tiles (four rows would spill).
    @inline(never)
    public static func product(
        _ a: TiledProduct.Operand<Double>, _ b: UnsafePointer<Double>, _ ldb: Int,
        into c: UnsafeMutablePointer<Double>, _ ldc: Int, m: Int, steps: Int, n: Int, accumulate: Bool
    ) {
        TiledProduct.product(
            a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate, height: TiledProduct.TwoRowTiles.self)
    }
}
