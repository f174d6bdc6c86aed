import CVeilCPU
import Foundation
import VeilAVX512Kernels
import VeilCore
import VeilKernels
import VeilWideKernels

/// The environment's cap on the kernels' path (`VEIL_KERNELS`), checked once at a command's start.
public enum KernelCap {
    /// The variable's name.
    public static let variable = "VEIL_KERNELS"

    /// Unset, or one of these: the paths' names, oldest first.
    public static let names = MatrixKernels.Path.allCases.map(\.name)

    /// Throws `invalidInput`, naming the variable and the names it may hold (never its value), when
    /// `environment` sets `VEIL_KERNELS` to anything but a path's name: a misspelt cap would otherwise
    /// cap nothing, and a run meant to rule the newer kernels out would use them without a word.
    public static func check(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(VeilError) {
        guard let value = environment[variable], MatrixKernels.Path(name: value) == nil else { return }
        throw VeilError(
            .invalidInput, field: variable,
            "must be one of \(names.joined(separator: ", ")) (it caps the kernels training and scoring run), or unset")
    }
}

/// Matrix products on raw row-major buffers (each with its row stride), for the layers that work on
/// chunks of rows. No allocation, no bounds checks.
///
/// Both products run one register-tiled kernel (`TiledProduct`, in `VeilKernels`) on one of three paths
/// (`Path`): `avx512` — `Float` compiled for AVX-512 (`VeilAVX512Kernels`), six rows × 32 columns per
/// tile in 16-lane vectors, `Double` as `wide` — on a CPU that has it; `wide` — compiled for AVX2 with
/// FMA (`VeilWideKernels`), four rows × sixteen columns — on a CPU that has both; and `baseline` —
/// compiled for the x86-64 baseline (SSE2), two rows × sixteen columns — elsewhere. `VEIL_KERNELS` in
/// the environment caps the path (`baseline` or `wide`), to rule newer code out when chasing a problem
/// or to compare. Every path sums every result element term by term in index order, each term by its
/// precision's rule (`ProductScalar`: in `Float` one fused multiply-add — `vfmadd` on the AVX2 and
/// AVX-512 paths, a correctly rounded libm call per lane on the baseline —, in `Double` a multiply then
/// an add; nothing reassociated), so each equals the same triple loop bit for bit: a seeded run gives
/// the same bits on every CPU, whichever path it takes.
enum MatrixKernels {
    /// Which compiled instance of the kernel runs (see the type's documentation), from the oldest
    /// instruction set to the newest.
    enum Path: Int, Sendable, Hashable, Comparable, CaseIterable {
        case baseline, wide, avx512

        /// The name `VEIL_KERNELS` gives it: the case's name.
        var name: String { "\(self)" }

        /// The path named `name`; nil for a name no path has.
        init?(name: String) {
            guard let path = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = path
        }

        /// The paths this CPU runs (`baseline` always), oldest first.
        static var available: [Path] {
            allCases.filter { path in
                switch path {
                case .baseline: true
                case .wide: veil_cpu_runs_wide_kernels() != 0
                case .avx512: veil_cpu_runs_avx512_kernels() != 0
                }
            }
        }

        /// Whether the path runs the AVX2 instance where it has no instance of its own (`Double`
        /// products).
        var runsAVX2: Bool { self != .baseline }

        static func < (lhs: Path, rhs: Path) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The newest path the CPU runs, capped by `VEIL_KERNELS` (`baseline` or `wide`) when the
    /// environment sets it. Read once.
    static let defaultPath: Path = defaultPath(cap: ProcessInfo.processInfo.environment["VEIL_KERNELS"])

    /// The newest available path at or below `cap` (a `Path` name; nil or an unknown name: no cap —
    /// the commands refuse an unknown name before anything runs, `KernelCap.check`).
    static func defaultPath(cap: String?) -> Path {
        let limit = cap.flatMap(Path.init(name:)) ?? .avx512
        return Path.available.filter { $0 <= limit }.max() ?? .baseline
    }

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

    /// `TiledProduct.product` on `path`: `avx512` for `Float` (the precision `VeilAVX512Kernels` is
    /// compiled for), `wide` — or `avx512` — for `Float` and `Double` (`VeilWideKernels`); any other
    /// `ComputeScalar` takes the baseline.
    @inline(__always)
    private static func product<S: ComputeScalar>(
        _ a: TiledProduct.Operand<S>, _ b: UnsafePointer<S>, _ ldb: Int, into c: UnsafeMutablePointer<S>, _ ldc: Int,
        m: Int, steps: Int, n: Int, accumulate: Bool, path: Path
    ) {
        guard path.runsAVX2, S.self == Float.self || S.self == Double.self else {
            TiledProduct.product(
                a, b, ldb, into: c, ldc, m: m, steps: steps, n: n, accumulate: accumulate, vector: SIMD8<S>.self,
                height: TiledProduct.TwoRowTiles.self, on: BaselineTarget.self)
            return
        }
        if path == .avx512, S.self == Float.self {
            AVX512Kernels.product(
                unsafeBitCast(a, to: TiledProduct.Operand<Float>.self), UnsafePointer(OpaquePointer(b)), ldb,
                into: UnsafeMutablePointer(OpaquePointer(c)), ldc, m: m, steps: steps, n: n, accumulate: accumulate)
        } else if S.self == Float.self {
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
