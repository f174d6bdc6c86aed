/// Matrix products on raw row-major buffers (each with its row stride), for the layers that work on
/// chunks of rows. No allocation, no bounds checks.
///
/// Both kernels hold a 4 × 8 tile of the result in SIMD registers while they run along the shared
/// dimension, so each loaded value feeds several multiply-adds. Every result element is still summed
/// term by term in index order (a multiply, then an add: no fused or reassociated arithmetic), so a
/// product equals the textbook triple loop bit for bit, whatever the tile edges.
enum MatrixKernels {
    /// `C = A · B` (or `C += A · B` when `accumulate`), A: m × k, B: k × n, C: m × n.
    static func multiply<S: ComputeScalar>(
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, k: Int, n: Int, accumulate: Bool
    ) {
        var i = 0
        while i < m {
            let rows = min(4, m - i)
            var j = 0
            while j + 8 <= n {
                var tile = Tile<S>(c + i * ldc + j, ldc, rows: rows, load: accumulate)
                for p in 0..<k {
                    let bv = load(b + p * ldb + j)
                    let ap = a + i * lda + p
                    tile.c0 += SIMD8(repeating: ap[0]) * bv
                    if rows > 1 { tile.c1 += SIMD8(repeating: ap[lda]) * bv }
                    if rows > 2 { tile.c2 += SIMD8(repeating: ap[2 * lda]) * bv }
                    if rows > 3 { tile.c3 += SIMD8(repeating: ap[3 * lda]) * bv }
                }
                tile.store(c + i * ldc + j, ldc, rows: rows)
                j += 8
            }
            for row in i..<(i + rows) where j < n {
                let cr = c + row * ldc
                let ar = a + row * lda
                for column in j..<n {
                    var sum: S = accumulate ? cr[column] : 0
                    for p in 0..<k { sum += ar[p] * b[p * ldb + column] }
                    cr[column] = sum
                }
            }
            i += rows
        }
    }

    /// `C += Σ_r w_r · A[r]ᵀ ⊗ B[r]` over rows `r < m` (w_r = `rowWeights[r]`, or 1 when nil):
    /// A: m × k, B: m × n, C: k × n — a weight gradient summed over rows. Each product term is
    /// `(w_r · A[r, p]) · B[r, j]`, added in row order.
    static func accumulateOuterProducts<S: ComputeScalar>(
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int, rowWeights: UnsafePointer<S>?,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, k: Int, n: Int
    ) {
        var p = 0
        while p < k {
            let rows = min(4, k - p)
            var j = 0
            while j + 8 <= n {
                var tile = Tile<S>(c + p * ldc + j, ldc, rows: rows, load: true)
                for r in 0..<m {
                    let bv = load(b + r * ldb + j)
                    let weight = rowWeights?[r] ?? 1
                    let ar = a + r * lda + p
                    tile.c0 += SIMD8(repeating: weight * ar[0]) * bv
                    if rows > 1 { tile.c1 += SIMD8(repeating: weight * ar[1]) * bv }
                    if rows > 2 { tile.c2 += SIMD8(repeating: weight * ar[2]) * bv }
                    if rows > 3 { tile.c3 += SIMD8(repeating: weight * ar[3]) * bv }
                }
                tile.store(c + p * ldc + j, ldc, rows: rows)
                j += 8
            }
            for row in p..<(p + rows) where j < n {
                let cr = c + row * ldc
                for column in j..<n {
                    var sum = cr[column]
                    for r in 0..<m { sum += ((rowWeights?[r] ?? 1) * a[r * lda + row]) * b[r * ldb + column] }
                    cr[column] = sum
                }
            }
            p += rows
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

    /// Up to four rows of eight results held in registers.
    private struct Tile<S: ComputeScalar> {
        var c0 = SIMD8<S>(), c1 = SIMD8<S>(), c2 = SIMD8<S>(), c3 = SIMD8<S>()

        @inline(__always)
        init(_ c: UnsafeMutablePointer<S>, _ ldc: Int, rows: Int, load: Bool) {
            guard load else { return }
            c0 = MatrixKernels.load(c)
            if rows > 1 { c1 = MatrixKernels.load(c + ldc) }
            if rows > 2 { c2 = MatrixKernels.load(c + 2 * ldc) }
            if rows > 3 { c3 = MatrixKernels.load(c + 3 * ldc) }
        }

        @inline(__always)
        func store(_ c: UnsafeMutablePointer<S>, _ ldc: Int, rows: Int) {
            MatrixKernels.store(c0, c)
            if rows > 1 { MatrixKernels.store(c1, c + ldc) }
            if rows > 2 { MatrixKernels.store(c2, c + 2 * ldc) }
            if rows > 3 { MatrixKernels.store(c3, c + 3 * ldc) }
        }
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
