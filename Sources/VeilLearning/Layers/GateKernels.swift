import VeilKernels
import VeilWideKernels

/// The GRU's element-wise gate steps (`GRUGates`, in `VeilKernels`) on `MatrixKernels`' paths: the AVX2
/// instance (`VeilWideKernels`) for `Float` on the `wide` and `avx512` paths (an AVX-512 CPU runs
/// AVX2; the gates have no AVX-512 instance), else the baseline instance compiled into this module.
/// Both instances run the same IEEE operations lane for lane, so they give the same bits
/// (`GateKernelsTests`): a seeded run is the same on every CPU and with `VEIL_KERNELS=baseline`.
enum GateKernels {
    /// `GRUGates.forward` for the step's `count` running examples.
    static func forward<S: ComputeScalar>(
        rows: UnsafePointer<Int>, count: Int, hidden: Int, inputProducts: UnsafePointer<S>,
        stepProducts: UnsafePointer<S>, state: UnsafeMutablePointer<S>, gateValues: UnsafeMutablePointer<S>,
        output: UnsafeMutablePointer<S>, path: MatrixKernels.Path = MatrixKernels.defaultPath
    ) {
        if path.runsAVX2, S.self == Float.self {
            WideGRUGates.forward(
                rows: rows, count: count, hidden: hidden, inputProducts: cast(inputProducts),
                stepProducts: cast(stepProducts), state: cast(state), gateValues: cast(gateValues), output: cast(output))
        } else {
            GRUGates<BaselineTarget>.forward(
                rows: rows, count: count, hidden: hidden, inputProducts: inputProducts, stepProducts: stepProducts,
                state: state, gateValues: gateValues, output: output)
        }
    }

    /// `GRUGates.backward` for the step's `count` running examples.
    static func backward<S: ComputeScalar>(
        rows: UnsafePointer<Int>, count: Int, hidden: Int, gateValues: UnsafePointer<S>,
        outputDelta: UnsafePointer<S>, stateDelta: UnsafeMutablePointer<S>, inputGateDeltas: UnsafeMutablePointer<S>,
        recurrentGateDeltas: UnsafeMutablePointer<S>, stepDeltas: UnsafeMutablePointer<S>,
        path: MatrixKernels.Path = MatrixKernels.defaultPath
    ) {
        if path.runsAVX2, S.self == Float.self {
            WideGRUGates.backward(
                rows: rows, count: count, hidden: hidden, gateValues: cast(gateValues), outputDelta: cast(outputDelta),
                stateDelta: cast(stateDelta), inputGateDeltas: cast(inputGateDeltas),
                recurrentGateDeltas: cast(recurrentGateDeltas), stepDeltas: cast(stepDeltas))
        } else {
            GRUGates<BaselineTarget>.backward(
                rows: rows, count: count, hidden: hidden, gateValues: gateValues, outputDelta: outputDelta,
                stateDelta: stateDelta, inputGateDeltas: inputGateDeltas, recurrentGateDeltas: recurrentGateDeltas,
                stepDeltas: stepDeltas)
        }
    }

    /// `function` of each of `count` values in place, on `path` (for the tests).
    static func apply(
        _ function: LaneFunction, to values: UnsafeMutablePointer<Float>, count: Int, path: MatrixKernels.Path
    ) {
        if path.runsAVX2 {
            WideGRUGates.apply(function, to: values, count: count)
        } else {
            function.apply(to: values, count: count, on: BaselineTarget.self)
        }
    }

    /// The same memory as `Float` (only called where `S` is `Float`).
    @inline(__always)
    private static func cast<S>(_ pointer: UnsafePointer<S>) -> UnsafePointer<Float> { UnsafePointer(OpaquePointer(pointer)) }

    @inline(__always)
    private static func cast<S>(_ pointer: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
        UnsafeMutablePointer(OpaquePointer(pointer))
    }
}
