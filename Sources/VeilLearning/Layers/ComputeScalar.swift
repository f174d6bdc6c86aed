import Foundation
import VeilKernels

/// The precision every model kind trains in, one rule for all: `DenseModel.train` and
/// `SequenceNetwork.train` run their forward, backward and per-example norm passes in it (each norm
/// summed in `Double`, `DenseKernels.squaredNorm`), while the master parameters, the clip weights, the
/// noise, the update and the accounting stay `Double` (`TrainingEngine`), and so do the artifacts and
/// serving. `Float`: about twice `Double`'s speed per pass (8 lanes per AVX2 register, 4 per SSE2 one).
public typealias TrainingPrecision = Float

/// A precision a model computes in (`Float` or `Double`): e^x as the layers need it (eight lanes at a
/// time, and σ and tanh, from `LaneScalar` in `VeilKernels`), and the whole-buffer conversions the
/// trainers need. The trainers are generic over the model and so, across
/// modules, not specialised: they call the conversions once per buffer, and the loops run in the
/// concrete conformances below, never element by element through generic code.
public protocol ComputeScalar: LaneScalar, ProductScalar, Codable, Sendable {
    /// e^x. `Double`: Foundation's `exp` (so dense models compute exactly as before). `Float`: lane 0
    /// of `LaneScalar`'s branch-free eight-lane approximation, so a value is the same bits alone or in
    /// a block.
    static func exponential(_ x: Self) -> Self
    /// `target[k] = Self(source[k])` for `k < count`.
    static func narrow(_ source: UnsafePointer<Double>, into target: UnsafeMutablePointer<Self>, count: Int)
    /// `target[k] = Double(source[k])` (`add` false) or `target[k] += Double(source[k])` (`add` true).
    static func widen(_ source: UnsafePointer<Self>, into target: UnsafeMutablePointer<Double>, count: Int, add: Bool)
    /// `values[k] = 0` for `k < count`.
    static func clear(_ values: UnsafeMutablePointer<Self>, count: Int)
}

extension ComputeScalar {
    @inline(__always)
    static func narrowing(_ source: UnsafePointer<Double>, into target: UnsafeMutablePointer<Self>, count: Int) {
        for k in 0..<count { target[k] = Self(source[k]) }
    }

    @inline(__always)
    static func widening(_ source: UnsafePointer<Self>, into target: UnsafeMutablePointer<Double>, count: Int, add: Bool) {
        if add {
            for k in 0..<count { target[k] += Double(source[k]) }
        } else {
            for k in 0..<count { target[k] = Double(source[k]) }
        }
    }
}

extension Float: ComputeScalar {
    /// e^x: lane 0 of the eight-lane form (`LaneScalar`, the baseline instance), so the two agree bit
    /// for bit by construction.
    @inline(__always)
    public static func exponential(_ x: Float) -> Float { exponential(SIMD8(repeating: x), on: BaselineTarget.self)[0] }

    public static func narrow(_ source: UnsafePointer<Double>, into target: UnsafeMutablePointer<Float>, count: Int) {
        narrowing(source, into: target, count: count)
    }

    public static func widen(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Double>, count: Int, add: Bool) {
        widening(source, into: target, count: count, add: add)
    }

    public static func clear(_ values: UnsafeMutablePointer<Float>, count: Int) {
        values.update(repeating: 0, count: count)
    }
}

extension Double: ComputeScalar {
    @inline(__always)
    public static func exponential(_ x: Double) -> Double { exp(x) }

    public static func narrow(_ source: UnsafePointer<Double>, into target: UnsafeMutablePointer<Double>, count: Int) {
        target.update(from: source, count: count)
    }

    public static func widen(_ source: UnsafePointer<Double>, into target: UnsafeMutablePointer<Double>, count: Int, add: Bool) {
        widening(source, into: target, count: count, add: add)
    }

    public static func clear(_ values: UnsafeMutablePointer<Double>, count: Int) {
        values.update(repeating: 0, count: count)
    }
}
