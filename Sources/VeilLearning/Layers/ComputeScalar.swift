import Foundation

/// The precision every model kind trains in, one rule for all: `DenseModel.train` and
/// `SequenceNetwork.train` run their forward, backward and per-example norm passes in it (each norm
/// summed in `Double`, `DenseKernels.squaredNorm`), while the master parameters, the clip weights, the
/// noise, the update and the accounting stay `Double` (`TrainingEngine`), and so do the artifacts and
/// serving. `Float`: about twice `Double`'s speed per pass (8 lanes per AVX2 register, 4 per SSE2 one).
public typealias TrainingPrecision = Float

/// A precision a model computes in (`Float` or `Double`): e^x as the layers need it, and the
/// whole-buffer conversions the trainers need. The trainers are generic over the model and so, across
/// modules, not specialised: they call the conversions once per buffer, and the loops run in the
/// concrete conformances below, never element by element through generic code.
public protocol ComputeScalar: BinaryFloatingPoint, SIMDScalar, Codable, Sendable {
    /// e^x. `Double`: Foundation's `exp` (so dense models compute exactly as before). `Float`: a
    /// branch-free approximation (below) that the compiler vectorises in the gate and softmax loops.
    static func exponential(_ x: Self) -> Self
    /// e^x in each lane, bit for bit what `exponential` gives for that lane alone (so a layer may run
    /// eight lanes or one and compute the same values).
    static func exponential(_ x: SIMD8<Self>) -> SIMD8<Self>
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
    /// e^x: lane 0 of the eight-lane form below, so the two agree bit for bit by construction.
    @inline(__always)
    public static func exponential(_ x: Float) -> Float { exponential(SIMD8(repeating: x))[0] }

    /// e^x to about 2 ulp for x in [−87, 88] (clamped outside; NaN gives NaN), in each lane: x = n·ln 2 + r
    /// with n rounded to nearest by the 1.5·2²³ trick, e^r by Cephes' degree-6 polynomial on
    /// |r| ≤ ln 2 / 2, and 2ⁿ built in the exponent bits. No branch, no call, no trap.
    @inline(__always)
    public static func exponential(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let low = SIMD8<Float>(repeating: -87), high = SIMD8<Float>(repeating: 88)
        let clamped = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let mantissa = p * r * r + r + 1
        // The low bits of `shifted` hold n + 2²² (two's complement n in its mantissa).
        let shiftedBits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self)
        let exponentBits = (shiftedBits &- 0x4B40_0000 &+ 127) &<< 23
        return mantissa * unsafeBitCast(exponentBits, to: SIMD8<Float>.self)
    }

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

    /// Foundation's `exp` lane by lane.
    @inline(__always)
    public static func exponential(_ x: SIMD8<Double>) -> SIMD8<Double> {
        var result = SIMD8<Double>()
        for lane in 0..<8 { result[lane] = exp(x[lane]) }
        return result
    }

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
