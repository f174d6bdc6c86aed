/// A precision a model computes in (`Float` or `Double`), with the whole-buffer conversions the
/// trainers need. The trainers are generic over the model and so, across modules, not specialised:
/// they call these once per buffer, and the loops run in the concrete conformances below, never
/// element by element through generic code.
public protocol ComputeScalar: BinaryFloatingPoint, Sendable {
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
