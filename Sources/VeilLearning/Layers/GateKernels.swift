import VeilAVX512Kernels
import VeilKernels
import VeilWideKernels

/// The GRU's element-wise gate steps (`GRUGates`, in `VeilKernels`) on `MatrixKernels`' paths, for
/// `Float`: the AVX-512 instance (`VeilAVX512Kernels`, sixteen lanes) on the `avx512` path, the AVX2
/// instance (`VeilWideKernels`, eight) on the `wide` path; anything else — `Double`, or the `baseline`
/// path — the baseline instance compiled into this module (eight lanes). Every instance runs the same
/// IEEE operations lane for lane, so they give the same bits (`GateKernelsTests`): a seeded run is the
/// same on every CPU and with any `VEIL_KERNELS` cap.
enum GateKernels {
    /// `GRUGates.forward` for the step's `count` running examples.
    static func forward<S: ComputeScalar>(
        rows: UnsafePointer<Int>, count: Int, hidden: Int, inputProducts: UnsafePointer<S>,
        stepProducts: UnsafePointer<S>, state: UnsafeMutablePointer<S>, gateValues: UnsafeMutablePointer<S>,
        output: UnsafeMutablePointer<S>, path: MatrixKernels.Path = MatrixKernels.defaultPath
    ) {
        let step = GRUForwardStep(
            rows: rows, count: count, hidden: hidden, inputProducts: inputProducts, stepProducts: stepProducts,
            state: state, gateValues: gateValues, output: output)
        switch path {
        case .avx512 where S.self == Float.self:
            AVX512GRUGates.forward(unsafeBitCast(step, to: GRUForwardStep<Float>.self))
        case .wide where S.self == Float.self:
            WideGRUGates.forward(unsafeBitCast(step, to: GRUForwardStep<Float>.self))
        default:
            GRUGates<BaselineTarget>.forward(step, vector: SIMD8<S>.self)
        }
    }

    /// `GRUGates.backward` for the step's `count` running examples.
    static func backward<S: ComputeScalar>(
        rows: UnsafePointer<Int>, count: Int, hidden: Int, gateValues: UnsafePointer<S>,
        outputDelta: UnsafePointer<S>, stateDelta: UnsafeMutablePointer<S>, inputGateDeltas: UnsafeMutablePointer<S>,
        recurrentGateDeltas: UnsafeMutablePointer<S>, stepDeltas: UnsafeMutablePointer<S>,
        path: MatrixKernels.Path = MatrixKernels.defaultPath
    ) {
        let step = GRUBackwardStep(
            rows: rows, count: count, hidden: hidden, gateValues: gateValues, outputDelta: outputDelta,
            stateDelta: stateDelta, inputGateDeltas: inputGateDeltas, recurrentGateDeltas: recurrentGateDeltas,
            stepDeltas: stepDeltas)
        switch path {
        case .avx512 where S.self == Float.self:
            AVX512GRUGates.backward(unsafeBitCast(step, to: GRUBackwardStep<Float>.self))
        case .wide where S.self == Float.self:
            WideGRUGates.backward(unsafeBitCast(step, to: GRUBackwardStep<Float>.self))
        default:
            GRUGates<BaselineTarget>.backward(step, vector: SIMD8<S>.self)
        }
    }

    /// `function` of each of `count` values in place, on `path` (for the tests).
    static func apply(
        _ function: LaneFunction, to values: UnsafeMutablePointer<Float>, count: Int, path: MatrixKernels.Path
    ) {
        switch path {
        case .avx512: AVX512GRUGates.apply(function, to: values, count: count)
        case .wide: WideGRUGates.apply(function, to: values, count: count)
        case .baseline: function.apply(to: values, count: count, vector: SIMD8<Float>.self, on: BaselineTarget.self)
        }
    }
}
