/// Matrix products on raw row-major buffers (each with its row stride), for the layers that work on
/// chunks of rows. No allocation, no bounds checks.
///
/// Both products run one register-tiled kernel (`product`): a tile of two rows × sixteen columns of the
/// result stays in SIMD registers (four 8-wide accumulators) while the kernel runs along the shared
/// dimension, so each broadcast of A feeds two multiply-adds and each load of B two. On the x86-64
/// baseline (SSE2, sixteen 4-wide registers) this shape measured 35 % faster than four rows × eight
/// columns, whose extra broadcasts are shuffles competing with the multiplies. Tile shapes are
/// constants in each inlined instance, so the inner loops have no branch. Every result element
/// is still summed term by term in index order (a multiply, then an add: no fused or reassociated
/// arithmetic), so a product equals the textbook triple loop bit for bit, whatever the tile edges.
enum MatrixKernels {
    /// `C = A · B` (or `C += A · B` when `accumulate`), A: m × k, B: k × n, C: m × n.
    static func multiply<S: ComputeScalar>(
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, k: Int, n: Int, accumulate: Bool
    ) {
        product(
            Operand(base: a, rowStride: lda, stepStride: 1, stepWeights: nil), b, ldb, into: c, ldc, m: m, steps: k,
            n: n, accumulate: accumulate)
    }

    /// `C += Σ_r w_r · A[r]ᵀ ⊗ B[r]` over rows `r < m` (w_r = `rowWeights[r]`, or 1 when nil):
    /// A: m × k, B: m × n, C: k × n — a weight gradient summed over rows. Each product term is
    /// `(w_r · A[r, p]) · B[r, j]`, added in row order.
    static func accumulateOuterProducts<S: ComputeScalar>(
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int, rowWeights: UnsafePointer<S>?,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, k: Int, n: Int
    ) {
        product(
            Operand(base: a, rowStride: 1, stepStride: lda, stepWeights: rowWeights), b, ldb, into: c, ldc, m: k,
            steps: m, n: n, accumulate: true)
    }

    /// The left factor of `product`: element (i, s) is `stepWeights[s] · base[i·rowStride + s·stepStride]`
    /// (no multiplication when `stepWeights` is nil). `multiply` reads A by rows (stepStride 1),
    /// `accumulateOuterProducts` reads it transposed (rowStride 1).
    struct Operand<S: ComputeScalar> {
        let base: UnsafePointer<S>
        let rowStride: Int
        let stepStride: Int
        let stepWeights: UnsafePointer<S>?
    }

    /// `C[i, j] (+)= Σ_s A(i, s) · B[s, j]` for i < m, j < n, s < steps, summed in step order (after C's
    /// old value when `accumulate`).
    static func product<S: ComputeScalar>(
        _ a: Operand<S>, _ b: UnsafePointer<S>, _ ldb: Int, into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int,
        steps: Int, n: Int, accumulate: Bool
    ) {
        if let weights = a.stepWeights {
            product(a, weighted: true, weights, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate)
        } else {
            product(a, weighted: false, a.base, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate)
        }
    }

    /// `product` with the weighting a constant (`weights` is read only when `weighted`).
    @inline(__always)
    private static func product<S: ComputeScalar>(
        _ a: Operand<S>, weighted: Bool, _ weights: UnsafePointer<S>, _ b: UnsafePointer<S>, _ ldb: Int,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, steps: Int, n: Int, accumulate: Bool
    ) {
        let left = Left(base: a.base, rowStride: a.rowStride, stepStride: a.stepStride, weighted: weighted, weights: weights)
        let right = Right(b: b, ldb: ldb, c: c, ldc: ldc, steps: steps, accumulate: accumulate)
        var i = 0
        while i + 2 <= m {
            tileRows(2, left, i, right, n: n)
            i += 2
        }
        if i < m { tileRows(1, left, i, right, n: n) }
    }

    /// `Operand` with its weighting a constant, as the tile loops read it.
    private struct Left<S: ComputeScalar> {
        let base: UnsafePointer<S>
        let rowStride: Int
        let stepStride: Int
        let weighted: Bool
        let weights: UnsafePointer<S>

        /// Element (`row`, s) for the step whose first element (row 0) is at `step`.
        @inline(__always)
        func value(_ step: UnsafePointer<S>, row: Int, s: Int) -> S {
            let value = step[row &* rowStride]
            return weighted ? weights[s] * value : value
        }
    }

    /// The right factor and the result, as the tile loops read and write them.
    private struct Right<S: ComputeScalar> {
        let b: UnsafePointer<S>
        let ldb: Int
        let c: UnsafeMutablePointer<S>
        let ldc: Int
        let steps: Int
        let accumulate: Bool
    }

    /// Rows `first ..< first + rows` of `product`'s result: 16 columns at a time (`Float`), then 8, then
    /// one by one. `rows` (2 or 1) is a literal at every call, so inlining leaves branch-free tile loops.
    /// A `Double` tile is 8 columns wide: 2 × 16 `Double`s need sixteen 2-wide SSE registers for the
    /// accumulators alone and spill (2 × 8 measured faster on the dense layers' products).
    @inline(__always)
    private static func tileRows<S: ComputeScalar>(_ rows: Int, _ a: Left<S>, _ first: Int, _ r: Right<S>, n: Int) {
        var j = 0
        if MemoryLayout<S>.size < 8 {
            while j + 16 <= n {
                tile(rows, wide: true, a, first, r, column: j)
                j += 16
            }
        }
        while j + 8 <= n {
            tile(rows, wide: false, a, first, r, column: j)
            j += 8
        }
        guard j < n else { return }
        let a0 = a.base + first &* a.rowStride
        for row in 0..<rows {
            let cr = r.c + (first + row) &* r.ldc
            for column in j..<n {
                var sum: S = r.accumulate ? cr[column] : 0
                var ap = a0
                for s in 0..<r.steps {
                    sum += a.value(ap, row: row, s: s) * r.b[s &* r.ldb &+ column]
                    ap += a.stepStride
                }
                cr[column] = sum
            }
        }
    }

    /// One tile — `rows` (2 or 1) rows × 16 (`wide`) or 8 columns from `column` — held in registers
    /// across every step: per step, `rows` broadcasts of A and one or two 8-wide loads of B feed up to
    /// four 8-wide multiply-adds.
    @inline(__always)
    private static func tile<S: ComputeScalar>(
        _ rows: Int, wide: Bool, _ a: Left<S>, _ first: Int, _ r: Right<S>, column: Int
    ) {
        let target = r.c + (first &* r.ldc &+ column)
        var c00 = SIMD8<S>(), c01 = SIMD8<S>(), c10 = SIMD8<S>(), c11 = SIMD8<S>()
        if r.accumulate {
            c00 = load(target)
            if wide { c01 = load(target + 8) }
            if rows > 1 {
                c10 = load(target + r.ldc)
                if wide { c11 = load(target + r.ldc + 8) }
            }
        }
        var ap = a.base + first &* a.rowStride
        var bp = r.b + column
        for s in 0..<r.steps {
            let b0 = load(bp)
            let x0 = SIMD8(repeating: a.value(ap, row: 0, s: s))
            c00 += x0 * b0
            if wide {
                let b1 = load(bp + 8)
                c01 += x0 * b1
                if rows > 1 {
                    let x1 = SIMD8(repeating: a.value(ap, row: 1, s: s))
                    c10 += x1 * b0
                    c11 += x1 * b1
                }
            } else if rows > 1 {
                c10 += SIMD8(repeating: a.value(ap, row: 1, s: s)) * b0
            }
            ap += a.stepStride
            bp += r.ldb
        }
        store(c00, target)
        if wide { store(c01, target + 8) }
        if rows > 1 {
            store(c10, target + r.ldc)
            if wide { store(c11, target + r.ldc + 8) }
        }
    }

    /// `B = Aᵀ`, A: m × n (row stride lda), B: n × m (contiguous).
    static func transpose<S: ComputeScalar>(_ a: UnsafePointer<S>, _ lda: Int, into b: UnsafeMutablePointer<S>, m: Int, n: Int) {
        for i in 0..<m {
            for j in 0..<n { b[j * m + i] = a[i * lda + j] }
        }
    }

    @inline(__always)
    static func load<S: ComputeScalar>(_ pointer: UnsafePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<S>.self)
    }

    @inline(__always)
    static func store<S: ComputeScalar>(_ value: SIMD8<S>, _ pointer: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<S>.self)
    }
}

/// Eight consecutive values of a row of `count` as one vector, for element-wise loops written once in
/// `SIMD8` lanes: the last block of a row whose length is not a multiple of 8 is read zero-padded and
/// written back only where the row has values. Lane arithmetic is IEEE per lane, so a value computes
/// the same in any block.
enum Lanes {
    @inline(__always)
    static func load<S: ComputeScalar>(_ row: UnsafePointer<S>, _ k: Int, _ count: Int) -> SIMD8<S> {
        if k + 8 <= count { return MatrixKernels.load(row + k) }
        var value = SIMD8<S>()
        for lane in 0..<(count - k) { value[lane] = row[k + lane] }
        return value
    }

    @inline(__always)
    static func store<S: ComputeScalar>(_ value: SIMD8<S>, _ row: UnsafeMutablePointer<S>, _ k: Int, _ count: Int) {
        if k + 8 <= count {
            MatrixKernels.store(value, row + k)
            return
        }
        for lane in 0..<(count - k) { row[k + lane] = value[lane] }
    }
}
