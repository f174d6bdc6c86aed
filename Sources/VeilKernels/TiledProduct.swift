/// A precision the tiled product runs in, and how it adds one term a·b to a sum c. One rule per
/// precision, for both compiled instances (so either gives the same bits):
/// - `Float`, the precision every model trains in: one fused multiply-add — the exact a·b + c rounded
///   once (`addingProduct`). IEEE 754 defines it exactly, so every implementation gives the same bits:
///   a `vfmadd` per 8 lanes where the module is compiled with FMA (`VeilWideKernels`), a correctly
///   rounded libm `fmaf` call per lane where it is not (the x86-64 baseline instance in `VeilLearning`:
///   exact, but several times slower, see `docs/models.md`).
/// - `Double`, the reference precision (serving, the exactness tests' brute force, the artifacts users
///   hold, which predict bit for bit as before): a rounded multiply, then a rounded add, never fused —
///   the textbook triple loop, and no libm call on a CPU without FMA.
///
/// Generic over the `KernelTarget`, like the lane functions, so that the two instances' copies never
/// share a name at link time.
public protocol ProductScalar: SIMDScalar, BinaryFloatingPoint, Codable {
    /// c + a·b in each lane, by this precision's rule.
    static func multiplyAdd<Target: KernelTarget>(
        _ c: SIMD8<Self>, _ a: SIMD8<Self>, _ b: SIMD8<Self>, on target: Target.Type
    ) -> SIMD8<Self>
    /// The same, sixteen lanes at a time (the AVX-512 instance's vectors).
    static func multiplyAdd<Target: KernelTarget>(
        _ c: SIMD16<Self>, _ a: SIMD16<Self>, _ b: SIMD16<Self>, on target: Target.Type
    ) -> SIMD16<Self>
    /// c + a·b, by this precision's rule (the same value as any lane of the vector form).
    static func multiplyAdd<Target: KernelTarget>(_ c: Self, _ a: Self, _ b: Self, on target: Target.Type) -> Self
}

extension Float: ProductScalar {
    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(
        _ c: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>, on target: Target.Type
    ) -> SIMD8<Float> {
        c.addingProduct(a, b)
    }

    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(
        _ c: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>, on target: Target.Type
    ) -> SIMD16<Float> {
        c.addingProduct(a, b)
    }

    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(_ c: Float, _ a: Float, _ b: Float, on target: Target.Type) -> Float {
        c.addingProduct(a, b)
    }
}

extension Double: ProductScalar {
    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(
        _ c: SIMD8<Double>, _ a: SIMD8<Double>, _ b: SIMD8<Double>, on target: Target.Type
    ) -> SIMD8<Double> {
        c + a * b
    }

    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(
        _ c: SIMD16<Double>, _ a: SIMD16<Double>, _ b: SIMD16<Double>, on target: Target.Type
    ) -> SIMD16<Double> {
        c + a * b
    }

    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(_ c: Double, _ a: Double, _ b: Double, on target: Target.Type) -> Double {
        c + a * b
    }
}

/// The vector a tile's accumulators are made of (`SIMD8`, or `SIMD16` for the AVX-512 instance): one
/// term c + a·b in each lane by the scalar's rule (`ProductScalar`), so a tile of either width sums every
/// result element with the same operations in the same order.
public protocol TileVector: SIMD where Scalar: ProductScalar {
    static func multiplyAdd<Target: KernelTarget>(_ c: Self, _ a: Self, _ b: Self, on target: Target.Type) -> Self
}

extension SIMD8: TileVector where Scalar: ProductScalar {
    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(_ c: Self, _ a: Self, _ b: Self, on target: Target.Type) -> Self {
        Scalar.multiplyAdd(c, a, b, on: target)
    }
}

extension SIMD16: TileVector where Scalar: ProductScalar {
    @inlinable @inline(__always)
    public static func multiplyAdd<Target: KernelTarget>(_ c: Self, _ a: Self, _ b: Self, on target: Target.Type) -> Self {
        Scalar.multiplyAdd(c, a, b, on: target)
    }
}

/// The register-tiled matrix product under `VeilLearning`'s `MatrixKernels`, on raw row-major buffers
/// (each with its row stride): no allocation, no bounds checks.
///
/// A tile of two, four or six rows (`TileHeight`) × two vectors (`TileVector`: sixteen columns of `SIMD8`,
/// 32 of `SIMD16`) of the result stays in SIMD registers (two accumulators per row) while the kernel
/// runs along the shared dimension, so each broadcast of A feeds two multiply-adds and each load of B
/// one per row. On the x86-64 baseline (SSE2, sixteen 4-wide registers, an 8-wide vector is two of
/// them) two rows is the most that stays in registers, and measured 35 % faster than four rows × eight
/// columns; with AVX2 (sixteen 8-wide registers) four rows keep eight independent accumulators, enough
/// to hide the adds' latency, and measured 30 % faster than two on the GRU's shapes (22–32 against
/// 14–15 G multiply-adds per CPU-second for the SSE2 instance); with AVX-512 (32 16-wide registers) six
/// rows keep twelve accumulators of twice the lanes (`docs/models.md`, "AVX-512 products").
/// Tile shapes and the weighting are types or literals in each instance, so the inner loops have no
/// branch whether or not the compiler inlines them.
///
/// Every result element is summed term by term in step order, each term added by its precision's rule
/// (`ProductScalar.multiplyAdd`: `Float` fused, `Double` a multiply then an add), never reassociated —
/// so a product equals the triple loop `sum = S.multiplyAdd(sum, a, b)` bit for bit, whatever the tile
/// edges and whatever instruction set the caller compiles it for.
///
/// Everything is `@inlinable` so that the module that calls it compiles the loops for its own target:
/// the same source is the SSE2 kernel in `VeilLearning`, the AVX2 + FMA kernel in `VeilWideKernels` and
/// the AVX-512 kernel in `VeilAVX512Kernels`.
/// Every function takes the instance (`KernelTarget`) as a generic parameter, so that each module's
/// specialisations have names of their own: same-named specialisations from two modules are merged into
/// one copy at link time (see `TileHeight`), and a baseline call must never land in the FMA copy (the
/// `Double` instances both use two-row tiles, so the height alone did not keep them apart).
public enum TiledProduct {
    /// The left factor: element (i, s) is `stepWeights[s] · base[i·rowStride + s·stepStride]` (no
    /// multiplication when `stepWeights` is nil). A matrix product reads A by rows (stepStride 1); a sum
    /// of outer products reads it transposed (rowStride 1).
    public struct Operand<S: ProductScalar> {
        public let base: UnsafePointer<S>
        public let rowStride: Int
        public let stepStride: Int
        public let stepWeights: UnsafePointer<S>?

        @inlinable
        public init(base: UnsafePointer<S>, rowStride: Int, stepStride: Int, stepWeights: UnsafePointer<S>?) {
            self.base = base
            self.rowStride = rowStride
            self.stepStride = stepStride
            self.stepWeights = stepWeights
        }
    }

    /// How many rows a tile holds (`TwoRowTiles`, `FourRowTiles`). A type, not a value, so that each
    /// instance's loops are specialised for it whether or not the compiler inlines them. Every tile
    /// function takes it as a generic parameter, which also keeps the instances apart at link time:
    /// specialisations with the same name from two modules are merged into one copy, so a `tile` not
    /// specialised on the height was one function for both, and the AVX2 instance called the SSE2 copy.
    public protocol TileHeight {
        static var rows: Int { get }
    }

    /// Two rows per tile: the most an SSE2 target keeps in registers.
    public enum TwoRowTiles: TileHeight {
        @inlinable public static var rows: Int { 2 }
    }

    /// Four rows per tile, for targets with sixteen 8-wide registers (AVX2).
    public enum FourRowTiles: TileHeight {
        @inlinable public static var rows: Int { 4 }
    }

    /// Six rows per tile, for targets with 32 registers (AVX-512): twelve accumulators.
    public enum SixRowTiles: TileHeight {
        @inlinable public static var rows: Int { 6 }
    }

    /// Whether A's steps are weighted, as a type (see `TileHeight`).
    @usableFromInline
    protocol StepWeighting {
        static var weighted: Bool { get }
    }

    @usableFromInline
    enum Weighted: StepWeighting {
        @inlinable static var weighted: Bool { true }
    }

    @usableFromInline
    enum Unweighted: StepWeighting {
        @inlinable static var weighted: Bool { false }
    }

    /// `C[i, j] (+)= Σ_s A(i, s) · B[s, j]` for i < m, j < n, s < steps, one `multiplyAdd` per term in
    /// step order (after C's old value when `accumulate`), in tiles of `height.rows` rows of `vector`s,
    /// compiled as `target`'s instance.
    @inlinable
    public static func product<S: ProductScalar, V: TileVector, Height: TileHeight, Target: KernelTarget>(
        _ a: Operand<S>, _ b: UnsafePointer<S>, _ ldb: Int, into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int,
        steps: Int, n: Int, accumulate: Bool, vector: V.Type, height: Height.Type, on target: Target.Type
    ) where V.Scalar == S {
        let right = Right(b: b, ldb: ldb, c: c, ldc: ldc, steps: steps, accumulate: accumulate)
        if let weights = a.stepWeights {
            multiplyAll(Left<S, Weighted>(a, weights: weights), right, m: m, n: n, vector: vector, height: height, on: target)
        } else {
            multiplyAll(Left<S, Unweighted>(a, weights: a.base), right, m: m, n: n, vector: vector, height: height, on: target)
        }
    }

    /// One contiguous result column whose left factor's rows are contiguous (`n` = 1, `ldc` = 1, A's
    /// `rowStride` = 1: a sigmoid head's weight gradient) runs `column`, vectorised along the column —
    /// the tiles are 8 or 16 columns wide and would take it one value at a time; anything else runs the
    /// row tiles.
    @inlinable
    static func multiplyAll<S: ProductScalar, W: StepWeighting, V: TileVector, Height: TileHeight, Target: KernelTarget>(
        _ left: Left<S, W>, _ right: Right<S>, m: Int, n: Int, vector: V.Type, height: Height.Type, on target: Target.Type
    ) where V.Scalar == S {
        if n == 1, right.ldc == 1, left.rowStride == 1 {
            column(left, right, m: m, on: target)
        } else {
            tileAll(left, right, m: m, n: n, vector: vector, height: height, on: target)
        }
    }

    /// `C[i] (+)= Σ_s A(i, s) · B[s]` for i < m, eight rows of C at a time held in one register across
    /// every step, then one by one: the same fused multiply-adds in the same order as a tile's.
    @inlinable
    static func column<S: ProductScalar, W: StepWeighting, Target: KernelTarget>(
        _ a: Left<S, W>, _ r: Right<S>, m: Int, on target: Target.Type
    ) {
        var i = 0
        while i + 8 <= m {
            var sum: SIMD8<S> = r.accumulate ? loadVector(r.c + i) : SIMD8<S>()
            var ap = a.base + i
            for s in 0..<r.steps {
                let x: SIMD8<S> = loadVector(ap)
                sum = S.multiplyAdd(
                    sum, W.weighted ? SIMD8(repeating: a.weights[s]) * x : x, SIMD8(repeating: r.b[s &* r.ldb]), on: target)
                ap += a.stepStride
            }
            storeVector(sum, r.c + i)
            i &+= 8
        }
        while i < m {
            var sum: S = r.accumulate ? r.c[i] : 0
            var ap = a.base + i
            for s in 0..<r.steps {
                sum = S.multiplyAdd(sum, a.value(ap, row: 0, s: s), r.b[s &* r.ldb], on: target)
                ap += a.stepStride
            }
            r.c[i] = sum
            i &+= 1
        }
    }

    /// Every row tile: `Height.rows` rows at a time, then four (after six-row tiles), then two, then the
    /// last one.
    @inlinable
    static func tileAll<S: ProductScalar, W: StepWeighting, V: TileVector, Height: TileHeight, Target: KernelTarget>(
        _ left: Left<S, W>, _ right: Right<S>, m: Int, n: Int, vector: V.Type, height: Height.Type, on target: Target.Type
    ) where V.Scalar == S {
        var i = 0
        if Height.rows == 6 {
            while i + 6 <= m {
                tileRows(6, left, i, right, n: n, vector: vector, height: height, on: target)
                i += 6
            }
        }
        if Height.rows >= 4 {
            while i + 4 <= m {
                tileRows(4, left, i, right, n: n, vector: vector, height: height, on: target)
                i += 4
            }
        }
        while i + 2 <= m {
            tileRows(2, left, i, right, n: n, vector: vector, height: height, on: target)
            i += 2
        }
        if i < m { tileRows(1, left, i, right, n: n, vector: vector, height: height, on: target) }
    }

    /// `Operand` with its weighting a type, as the tile loops read it.
    @usableFromInline
    struct Left<S: ProductScalar, W: StepWeighting> {
        @usableFromInline let base: UnsafePointer<S>
        @usableFromInline let rowStride: Int
        @usableFromInline let stepStride: Int
        /// Read only when `W.weighted`.
        @usableFromInline let weights: UnsafePointer<S>

        @inlinable @inline(__always)
        init(_ a: Operand<S>, weights: UnsafePointer<S>) {
            base = a.base
            rowStride = a.rowStride
            stepStride = a.stepStride
            self.weights = weights
        }

        /// Element (`row`, s) for the step whose first element (row 0) is at `step`.
        @inlinable @inline(__always)
        func value(_ step: UnsafePointer<S>, row: Int, s: Int) -> S {
            let value = step[row &* rowStride]
            return W.weighted ? weights[s] * value : value
        }
    }

    /// The right factor and the result, as the tile loops read and write them.
    @usableFromInline
    struct Right<S: ProductScalar> {
        @usableFromInline let b: UnsafePointer<S>
        @usableFromInline let ldb: Int
        @usableFromInline let c: UnsafeMutablePointer<S>
        @usableFromInline let ldc: Int
        @usableFromInline let steps: Int
        @usableFromInline let accumulate: Bool

        @inlinable @inline(__always)
        init(b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int, steps: Int, accumulate: Bool) {
            self.b = b
            self.ldb = ldb
            self.c = c
            self.ldc = ldc
            self.steps = steps
            self.accumulate = accumulate
        }
    }

    /// Rows `first ..< first + rows` of the result: two vectors of columns at a time (`Float`: 16
    /// columns of `SIMD8`, 32 of `SIMD16`), then one vector, then one by one. `rows` (6, 4, 2 or 1) is a
    /// literal at every call, so inlining leaves branch-free tile loops. A `Double` tile is one vector
    /// wide: 2 × 16 `Double`s need sixteen 2-wide SSE registers for the accumulators alone and spill
    /// (2 × 8 measured faster on the dense layers' products), and 4 × 16 would need all sixteen AVX2
    /// registers.
    @inlinable @inline(__always)
    static func tileRows<S: ProductScalar, W: StepWeighting, V: TileVector, Height: TileHeight, Target: KernelTarget>(
        _ rows: Int, _ a: Left<S, W>, _ first: Int, _ r: Right<S>, n: Int, vector: V.Type, height: Height.Type,
        on target: Target.Type
    ) where V.Scalar == S {
        let lanes = V.scalarCount
        var j = 0
        if MemoryLayout<S>.size < 8 {
            while j + 2 * lanes <= n {
                tile(rows, wide: true, a, first, r, column: j, vector: vector, height: height, on: target)
                j += 2 * lanes
            }
        }
        while j + lanes <= n {
            tile(rows, wide: false, a, first, r, column: j, vector: vector, height: height, on: target)
            j += lanes
        }
        guard j < n else { return }
        let a0 = a.base + first &* a.rowStride
        for row in 0..<rows {
            let cr = r.c + (first + row) &* r.ldc
            for column in j..<n {
                var sum: S = r.accumulate ? cr[column] : 0
                var ap = a0
                for s in 0..<r.steps {
                    sum = S.multiplyAdd(sum, a.value(ap, row: row, s: s), r.b[s &* r.ldb &+ column], on: target)
                    ap += a.stepStride
                }
                cr[column] = sum
            }
        }
    }

    /// One tile — `rows` (6, 4, 2 or 1) rows × two vectors (`wide`) or one of columns from `column` —
    /// held in registers across every step: per step, `rows` broadcasts of A and one or two vector loads
    /// of B feed up to twelve vector multiply-adds. Accumulator `c<row><half>` holds row `row`'s columns
    /// `column + L·half ..< column + L·half + L`, L the vector's lanes.
    @inlinable @inline(__always)
    static func tile<S: ProductScalar, W: StepWeighting, V: TileVector, Height: TileHeight, Target: KernelTarget>(
        _ rows: Int, wide: Bool, _ a: Left<S, W>, _ first: Int, _ r: Right<S>, column: Int, vector: V.Type,
        height: Height.Type, on target: Target.Type
    ) where V.Scalar == S {
        let lanes = V.scalarCount
        let corner = r.c + (first &* r.ldc &+ column)
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        if r.accumulate {
            loadRow(&c00, &c01, corner, wide: wide, lanes: lanes)
            if rows > 1 { loadRow(&c10, &c11, corner + r.ldc, wide: wide, lanes: lanes) }
            if rows > 2 { loadRow(&c20, &c21, corner + 2 &* r.ldc, wide: wide, lanes: lanes) }
            if rows > 3 { loadRow(&c30, &c31, corner + 3 &* r.ldc, wide: wide, lanes: lanes) }
            if rows > 4 { loadRow(&c40, &c41, corner + 4 &* r.ldc, wide: wide, lanes: lanes) }
            if rows > 5 { loadRow(&c50, &c51, corner + 5 &* r.ldc, wide: wide, lanes: lanes) }
        }
        var ap = a.base + first &* a.rowStride
        var bp = r.b + column
        for s in 0..<r.steps {
            let b0: V = loadVector(bp)
            let b1: V = wide ? loadVector(bp + lanes) : b0
            multiplyAddRow(&c00, &c01, a.value(ap, row: 0, s: s), b0, b1, wide: wide, on: target)
            if rows > 1 { multiplyAddRow(&c10, &c11, a.value(ap, row: 1, s: s), b0, b1, wide: wide, on: target) }
            if rows > 2 { multiplyAddRow(&c20, &c21, a.value(ap, row: 2, s: s), b0, b1, wide: wide, on: target) }
            if rows > 3 { multiplyAddRow(&c30, &c31, a.value(ap, row: 3, s: s), b0, b1, wide: wide, on: target) }
            if rows > 4 { multiplyAddRow(&c40, &c41, a.value(ap, row: 4, s: s), b0, b1, wide: wide, on: target) }
            if rows > 5 { multiplyAddRow(&c50, &c51, a.value(ap, row: 5, s: s), b0, b1, wide: wide, on: target) }
            ap += a.stepStride
            bp += r.ldb
        }
        storeRow(c00, c01, corner, wide: wide, lanes: lanes)
        if rows > 1 { storeRow(c10, c11, corner + r.ldc, wide: wide, lanes: lanes) }
        if rows > 2 { storeRow(c20, c21, corner + 2 &* r.ldc, wide: wide, lanes: lanes) }
        if rows > 3 { storeRow(c30, c31, corner + 3 &* r.ldc, wide: wide, lanes: lanes) }
        if rows > 4 { storeRow(c40, c41, corner + 4 &* r.ldc, wide: wide, lanes: lanes) }
        if rows > 5 { storeRow(c50, c51, corner + 5 &* r.ldc, wide: wide, lanes: lanes) }
    }

    /// A tile row's accumulators from C: its first vector, and its second when `wide`.
    @inlinable @inline(__always)
    static func loadRow<V: TileVector>(
        _ c0: inout V, _ c1: inout V, _ at: UnsafeMutablePointer<V.Scalar>, wide: Bool, lanes: Int
    ) {
        c0 = loadVector(at)
        if wide { c1 = loadVector(at + lanes) }
    }

    /// One step's terms of a tile row: its A element broadcast, times B's one or two vectors.
    @inlinable @inline(__always)
    static func multiplyAddRow<V: TileVector, Target: KernelTarget>(
        _ c0: inout V, _ c1: inout V, _ x: V.Scalar, _ b0: V, _ b1: V, wide: Bool, on target: Target.Type
    ) {
        let broadcast = V(repeating: x)
        c0 = V.multiplyAdd(c0, broadcast, b0, on: target)
        if wide { c1 = V.multiplyAdd(c1, broadcast, b1, on: target) }
    }

    /// A tile row's accumulators back to C.
    @inlinable @inline(__always)
    static func storeRow<V: TileVector>(_ c0: V, _ c1: V, _ at: UnsafeMutablePointer<V.Scalar>, wide: Bool, lanes: Int) {
        storeVector(c0, at)
        if wide { storeVector(c1, at + lanes) }
    }

    /// A vector of any width from (unaligned) memory.
    @inlinable @inline(__always)
    public static func loadVector<V: SIMD>(_ pointer: UnsafePointer<V.Scalar>) -> V {
        UnsafeRawPointer(pointer).loadUnaligned(as: V.self)
    }

    @inlinable @inline(__always)
    public static func storeVector<V: SIMD>(_ value: V, _ pointer: UnsafeMutablePointer<V.Scalar>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: V.self)
    }
}
