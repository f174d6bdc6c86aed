import CVeilCPU
import Foundation
import VeilKernels
import VeilWideKernels

/// Matrix products on raw row-major buffers (each with its row stride), for the layers that work on
/// chunks of rows. No allocation, no bounds checks.
///
/// Both products run one register-tiled kernel (`TiledProduct`, in `VeilKernels`) on one of two paths
/// (`Path`): `wide` — compiled for AVX2 with FMA (`VeilWideKernels`), four rows × sixteen columns per
/// tile — on a CPU that has both, and `baseline` — compiled for the x86-64 baseline (SSE2), two rows ×
/// sixteen columns — elsewhere, or everywhere with `VEIL_KERNELS=baseline` in the environment (to rule
/// the AVX2 code out when chasing a problem). Both sum every result element term by term in index
/// order, each term by its precision's rule (`ProductScalar`: in `Float` one fused multiply-add —
/// `vfmadd` on the wide path, a correctly rounded libm call per lane on the baseline —, in `Double` a
/// multiply then an add; nothing reassociated), so either equals the same triple loop bit for bit: a
/// seeded run gives the same bits on every CPU, whichever path it takes.
enum MatrixKernels {
    /// Which compiled instance of the kernel runs (see the type's documentation).
    enum Path: Sendable, Hashable {
        case baseline, wide
    }

    /// `wide` when the CPU runs `VeilWideKernels` (AVX2 and FMA) and the environment does not ask for
    /// `VEIL_KERNELS=baseline`, else `baseline`. Read once.
    static let defaultPath: Path =
        veil_cpu_runs_wide_kernels() != 0 && ProcessInfo.processInfo.environment["VEIL_KERNELS"] != "baseline"
        ? .wide : .baseline

    /// `C = A · B` (or `C += A · B` when `accumulate`), A: m × k, B: k × n, C: m × n.
    static func multiply<S: ComputeScalar>(
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, k: Int, n: Int, accumulate: Bool,
        path: Path = defaultPath
    ) {
        product(
            TiledProduct.Operand(base: a, rowStride: lda, stepStride: 1, stepWeights: nil), b, ldb, into: c, ldc, m: m,
            steps: k, n: n, accumulate: accumulate, path: path)
    }

    /// `C += Σ_r w_r · A[r]ᵀ ⊗ B[r]` over rows `r < m` (w_r = `rowWeights[r]`, or 1 when nil):
    /// A: m × k, B: m × n, C: k × n — a weight gradient summed over rows. Each product term is
    /// `(w_r · A[r, p]) · B[r, j]` (the weighting a rounded multiply, then the term's `multiplyAdd`),
    /// added in row order. One contiguous column (`n` and `ldc` 1: a sigmoid head's weights) is vectorised along
    /// C's column (`TiledProduct`), with the same terms in the same order.
    static func accumulateOuterProducts<S: ComputeScalar>(
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int, rowWeights: UnsafePointer<S>?,
        into c: UnsafeMutablePointer<S>, _ ldc: Int, m: Int, k: Int, n: Int, path: Path = defaultPath
    ) {
        product(
            TiledProduct.Operand(base: a, rowStride: 1, stepStride: lda, stepWeights: rowWeights), b, ldb, into: c, ldc,
            m: k, steps: m, n: n, accumulate: true, path: path)
    }

    /// `TiledProduct.product` on `path` (`wide` for `Float` and `Double`, the two precisions
    /// `VeilWideKernels` is compiled for; any other `ComputeScalar` takes the baseline).
    @inline(__always)
    private static func product<S: ComputeScalar>(
        _ a: TiledProduct.Operand<S>, _ b: UnsafePointer<S>, _ ldb: Int, into c: UnsafeMutablePointer<S>, _ ldc: Int,
        m: Int, steps: Int, n: Int, accumulate: Bool, path: Path
    ) {
        guard path == .wide, S.self == Float.self || S.self == Double.self else {
            TiledProduct.product(
                a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate,
                height: TiledProduct.TwoRowTiles.self, on: BaselineTarget.self)
            return
        }
        if S.self == Float.self {
            WideKernels.product(
                unsafeBitCast(a, to: TiledProduct.Operand<Float>.self), UnsafePointer(OpaquePointer(b)), ldb,
                into: UnsafeMutablePointer(OpaquePointer(c)), ldc, m: m, steps: steps, n: n, accumulate: accumulate)
        } else {
            WideKernels.product(
                unsafeBitCast(a, to: TiledProduct.Operand<Double>.self), UnsafePointer(OpaquePointer(b)), ldb,
                into: UnsafeMutablePointer(OpaquePointer(c)), ldc, m: m, steps: steps, n: n, accumulate: accumulate)
        }
    }

    /// `B = Aᵀ`, A: m × n (row stride lda), B: n × m (contiguous).
    static func transpose<S: ComputeScalar>(_ a: UnsafePointer<S>, _ lda: Int, into b: UnsafeMutablePointer<S>, m: Int, n: Int) {
        for i in 0..<m {
            for j in 0..<n { b[j * m + i] = a[i * lda + j] }
        }
    }
}
