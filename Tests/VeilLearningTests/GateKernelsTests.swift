import CVeilCPU
import Foundation
import Testing
import VeilCrypto
import VeilKernels
@testable import VeilLearning

/// The `Float` lane functions (e^x, σ, tanh; `LaneScalar` in `VeilKernels`) and the GRU's gate steps
/// (`GRUGates`): their error against Foundation's functions in `Double` over the whole `Float` range,
/// the saturation and special values, and the compiled instances — the baseline (SSE2, eight lanes),
/// the AVX2 one (`VeilWideKernels`, eight lanes) and the AVX-512 one (`VeilAVX512Kernels`, sixteen
/// lanes), each on a CPU that runs it — giving the same bits, so a seeded run is the same on any CPU
/// and with any `VEIL_KERNELS` cap.
///
/// "The whole range": 65,536 `Float`s whose bit patterns are i · 65,537 (i < 2¹⁶) — every exponent,
/// both signs, subnormals, ±∞ and NaNs, with varied mantissas — and the special values below. (Every
/// 4,096th `Float` — a million values — was checked once in a release build: e^x within 0.95 ulp on
/// [−87, 88], σ within 1.3 · 10⁻⁷ relative for x ≥ −87, tanh within 1.8 · 10⁻⁷ absolute and 3.0 · 10⁻⁷
/// relative for |x| ≥ 0.5; see `docs/models.md`.)
@Suite struct GateKernelsTests {
    /// The sampled bit patterns and the special values.
    static let samples: [Float] = {
        var values = (0..<65_536).map { Float(bitPattern: UInt32($0) &* 65_537) }
        values += [
            0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, .infinity, -.infinity,
            .nan, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 87, 88, -87, -88, 88.5, -87.5, 44, -44, 1e-8, -1e-8,
        ]
        return values
    }()

    /// `function` of every sample on `path`.
    static func apply(_ function: LaneFunction, path: MatrixKernels.Path) -> [Float] {
        var values = samples
        values.withUnsafeMutableBufferPointer {
            GateKernels.apply(function, to: $0.baseAddress!, count: $0.count, path: path)
        }
        return values
    }

    /// e^x within 2 ulp of the correctly rounded value on [−87, 88]; e^88's value above (and at +∞),
    /// e^−87's below (and at −∞); NaN for NaN; exactly 1 at ±0 and the subnormals.
    @Test func exponentialOverTheWholeRange() {
        let result = Self.apply(.exponential, path: .baseline)
        let ceiling = Float.exponential(88), floor = Float.exponential(-87)
        var worst = 0.0
        for (x, value) in zip(Self.samples, result) {
            if x.isNaN {
                #expect(value.isNaN)
            } else if x > 88 {
                #expect(value == ceiling, "e^\(x)")
            } else if x < -87 {
                #expect(value == floor, "e^\(x)")
            } else {
                let exact = exp(Double(x))
                worst = max(worst, abs(Double(value) - exact) / Double(Float(exact).ulp))
            }
            if x.isZero || x.isSubnormal { #expect(value == 1, "e^\(x)") }
        }
        #expect(worst <= 2, "worst \(worst) ulp")
        #expect(ceiling.isFinite && abs(Double(ceiling) - exp(88)) / exp(88) < 1e-6)
        #expect(floor > 0 && floor.isNormal)
    }

    /// σ(x) within 2 · 10⁻⁷ relative of 1 / (1 + e^−x) for x ≥ −87, in (0, e^−87 ≈ 1.65 · 10⁻³⁸] below
    /// and at −∞ (e^x saturates at e^88); exactly 1 at +∞ and for x ≥ 17, 0.5 at ±0 and the subnormals;
    /// NaN for NaN.
    @Test func sigmoidOverTheWholeRange() {
        let result = Self.apply(.sigmoid, path: .baseline)
        var worst = 0.0
        for (x, value) in zip(Self.samples, result) {
            if x.isNaN {
                #expect(value.isNaN)
                continue
            }
            let exact = 1 / (1 + exp(-Double(x)))
            if x >= -87 {
                worst = max(worst, abs(Double(value) - exact) / exact)
            } else {
                #expect(value > 0 && Double(value) <= exp(-87) * (1 + 1e-6), "σ(\(x)) = \(value)")
            }
            if x >= 17 { #expect(value == 1, "σ(\(x))") }
            if x.isZero || x.isSubnormal { #expect(value == 0.5, "σ(\(x))") }
        }
        #expect(worst <= 2e-7, "worst relative \(worst)")
    }

    /// tanh(x) within 2.5 · 10⁻⁷ absolute of Foundation's `tanh` everywhere (its error is absolute: near 0 the
    /// formula cancels), and within 4 · 10⁻⁷ relative for |x| ≥ 0.5; exactly ±1 past ±10 and at ±∞; 0 at
    /// ±0; NaN for NaN.
    @Test func tanhOverTheWholeRange() {
        let result = Self.apply(.tanh, path: .baseline)
        var worstAbsolute = 0.0, worstRelative = 0.0
        for (x, value) in zip(Self.samples, result) {
            if x.isNaN {
                #expect(value.isNaN)
                continue
            }
            let exact = tanh(Double(x))
            let error = abs(Double(value) - exact)
            worstAbsolute = max(worstAbsolute, error)
            if abs(x) >= 0.5 { worstRelative = max(worstRelative, error / abs(exact)) }
            if abs(x) >= 10 { #expect(value == (x > 0 ? 1 : -1), "tanh(\(x))") }
            if x.isZero { #expect(value == 0) }
        }
        #expect(worstAbsolute <= 2.5e-7, "worst absolute \(worstAbsolute)")
        #expect(worstRelative <= 4e-7, "worst relative \(worstRelative)")
    }

    /// Eight different lanes at once give each lane's scalar value (`Float.exponential(_:)`) bit for bit.
    @Test func lanesEqualTheScalarFunction() {
        let lanes = SIMD8<Float>(-50, -3.25, -1, -0.1, 0, 0.7, 2.5, 40)
        let together = Float.exponential(lanes, on: BaselineTarget.self)
        for lane in 0..<8 { #expect(together[lane].bitPattern == Float.exponential(lanes[lane]).bitPattern) }
    }

    /// The paths beside the baseline that this CPU runs (`wide`, and `avx512` where it has AVX-512).
    static let newerPaths = MatrixKernels.Path.available.filter { $0 != .baseline }

    /// Sixteen different lanes at once give the eight-lane form's bits, lane for lane.
    @Test func sixteenLanesEqualEight() {
        let low = SIMD8<Float>(-50, -3.25, -1, -0.1, 0, 0.7, 2.5, 40)
        let high = SIMD8<Float>(-88.5, -1e-8, 1e-8, 0.3, 17, 44, .infinity, .nan)
        let together = Float.exponential(SIMD16(lowHalf: low, highHalf: high), on: BaselineTarget.self)
        let apart = [Float.exponential(low, on: BaselineTarget.self), Float.exponential(high, on: BaselineTarget.self)]
        for lane in 0..<16 {
            let eight = apart[lane / 8][lane % 8]
            #expect(together[lane].bitPattern == eight.bitPattern || (together[lane].isNaN && eight.isNaN), "lane \(lane)")
        }
    }

    /// Each newer instance gives the baseline's bits for every sample, for each function (NaN for NaN).
    @Test(
        .enabled(if: veil_cpu_runs_wide_kernels() != 0, "the CPU has no AVX2 and FMA"),
        arguments: LaneFunction.allCases, newerPaths)
    func newerLaneFunctionsEqualTheBaseline(function: LaneFunction, path: MatrixKernels.Path) {
        let baseline = Self.apply(function, path: .baseline)
        let newer = Self.apply(function, path: path)
        var differing = 0
        for (b, w) in zip(baseline, newer) where b.bitPattern != w.bitPattern && !(b.isNaN && w.isNaN) { differing += 1 }
        #expect(differing == 0, "\(function) on \(path.name): \(differing) values differ")
    }

    /// One forward and one backward gate step on each newer path and the baseline, bit for bit, for 3
    /// running examples whose rows are scattered (5, 0, 3 of 6), with hidden 64 (whole blocks of eight
    /// and of sixteen), 27 (three whole blocks of eight or one of sixteen, and a partial one), 11 (a whole
    /// block of eight and a partial one; a partial one of sixteen) and 4 (a partial block only); inputs
    /// in ±6 so that the gates are neither all saturated nor all linear. Everything the steps write is
    /// compared, including `stateDelta`.
    @Test(
        .enabled(if: veil_cpu_runs_wide_kernels() != 0, "the CPU has no AVX2 and FMA"),
        arguments: [64, 27, 11, 4], newerPaths)
    func newerGateStepsEqualTheBaseline(hidden: Int, path: MatrixKernels.Path) {
        let rows = [5, 0, 3], rowCount = 6, count = 3
        let H = hidden, G = 3 * hidden
        var generator = ChaChaNoiseGenerator(seed: UInt64(hidden))
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double.random(in: -6...6, using: &generator)) } }
        let inputProducts = values(rowCount * G), stepProducts = values(count * G), state = values(count * H)
        let outputDelta = values(rowCount * H), stateDelta = values(count * H)

        func run(_ path: MatrixKernels.Path) -> [[Float]] {
            var state = state, gateValues = [Float](repeating: .nan, count: rowCount * 5 * H)
            var output = [Float](repeating: .nan, count: rowCount * H), stateDelta = stateDelta
            var inputGateDeltas = [Float](repeating: .nan, count: rowCount * G)
            var recurrentGateDeltas = inputGateDeltas, stepDeltas = [Float](repeating: .nan, count: count * G)
            GateKernels.forward(
                rows: rows, count: count, hidden: H, inputProducts: inputProducts, stepProducts: stepProducts,
                state: &state, gateValues: &gateValues, output: &output, path: path)
            GateKernels.backward(
                rows: rows, count: count, hidden: H, gateValues: gateValues, outputDelta: outputDelta,
                stateDelta: &stateDelta, inputGateDeltas: &inputGateDeltas, recurrentGateDeltas: &recurrentGateDeltas,
                stepDeltas: &stepDeltas, path: path)
            return [state, gateValues, output, stateDelta, inputGateDeltas, recurrentGateDeltas, stepDeltas]
        }
        let baseline = run(.baseline), newer = run(path)
        for (index, (b, w)) in zip(baseline, newer).enumerated() {
            #expect(b.map(\.bitPattern) == w.map(\.bitPattern), "hidden \(hidden) on \(path.name), buffer \(index)")
        }
        // The rows the step does not run (1, 2, 4) stay untouched.
        for row in [1, 2, 4] {
            let untouched = baseline[2][(row * H)..<((row + 1) * H)].allSatisfy { $0.isNaN }
            #expect(untouched, "row \(row)")
        }
    }
}
