import VeilKernels

/// `TiledProduct.product` compiled for AVX2 with FMA on x86-64 (this target's flags in `Package.swift`),
/// in four-row tiles: sixteen 8-wide registers hold eight accumulators, where the SSE2 baseline holds
/// four; each term is one `vfmadd`. Call it only where `veil_cpu_runs_wide_kernels()` (`CVeilCPU`)
/// says the CPU runs it — `MatrixKernels` does.
///
/// The entry points are `@inline(never)` so that no caller compiled for the baseline inlines the loops
/// into its own code: they are compiled here, once, for this target. The arithmetic is the baseline's
/// term for term (one fused multiply-add per term, in the same order; the baseline's is a correctly
/// rounded libm call), so a product equals the fused triple loop bit for bit on either path.
public enum WideKernels {
    @inline(never)
    public static func product(
        _ a: TiledProduct.Operand<Float>, _ b: UnsafePointer<Float>, _ ldb: Int, into c: UnsafeMutablePointer<Float>,
        _ ldc: Int, m: Int, steps: Int, n: Int, accumulate: Bool
    ) {
        TiledProduct.product(
            a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate, vector: SIMD8<Float>.self,
            height: TiledProduct.FourRowTiles.self, on: WideTarget.self)
    }

    /// `Double`: an 8-wide vector is two AVX2 registers, so two-row tiles (four rows would spill).
    @inline(never)
    public static func product(
        _ a: TiledProduct.Operand<Double>, _ b: UnsafePointer<Double>, _ ldb: Int,
        into c: UnsafeMutablePointer<Double>, _ ldc: Int, m: Int, steps: Int, n: Int, accumulate: Bool
    ) {
        TiledProduct.product(
            a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate, vector: SIMD8<Double>.self,
            height: TiledProduct.TwoRowTiles.self, on: WideTarget.self)
    }
}

/// `GRUGates`' steps compiled for AVX2 (and FMA, which they do not use: their multiplies and adds stay
/// separate, see `LaneScalar`), eight lanes at a time, in `Float` (the precision the models train in;
/// `Double` takes the baseline instance, whose e^x is a libm call per lane anyway). The same arithmetic
/// as the baseline instance, lane for lane, so the same bits. Call only where
/// `veil_cpu_runs_wide_kernels()` says so.
public enum WideGRUGates {
    @inline(never)
    public static func forward(_ step: GRUForwardStep<Float>) { GRUGates<WideTarget>.forward(step, vector: SIMD8<Float>.self) }

    @inline(never)
    public static func backward(_ step: GRUBackwardStep<Float>) {
        GRUGates<WideTarget>.backward(step, vector: SIMD8<Float>.self)
    }

    /// `function` of each of `count` values, in place: the tests compare the instances with it over the
    /// whole `Float` range.
    @inline(never)
    public static func apply(_ function: LaneFunction, to values: UnsafeMutablePointer<Float>, count: Int) {
        function.apply(to: values, count: count, vector: SIMD8<Float>.self, on: WideTarget.self)
    }
}
