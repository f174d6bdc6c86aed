import Foundation

/// Which compiled instance of the kernels a specialisation belongs to: `BaselineTarget` (the x86-64
/// baseline, SSE2, compiled into `VeilLearning`), `WideTarget` (AVX2, compiled into `VeilWideKernels`)
/// or `AVX512Target` (AVX-512, compiled into `VeilAVX512Kernels`; the `Float` products and gate
/// steps). The kernels take it as a generic parameter only to keep the instances apart at link time —
/// specialisations with the same name from two modules are merged into one copy (see
/// `TiledProduct.TileHeight`) — and compute the same values under any.
public protocol KernelTarget {}

/// The x86-64 baseline instance (SSE2).
public enum BaselineTarget: KernelTarget {}

/// The AVX2 instance (`VeilWideKernels`).
public enum WideTarget: KernelTarget {}

/// The AVX-512 instance (`VeilAVX512Kernels`).
public enum AVX512Target: KernelTarget {}

/// A precision the element-wise kernels run in, eight or sixteen lanes at a time (`LaneVector`): e^x,
/// and through it the logistic sigmoid and tanh. Every lane is computed on its own by IEEE operations
/// (a multiply, then an add; never fused; a correctly rounded division), so a value is the same bits in
/// any lane, in any block, in a vector of either width and under any `KernelTarget` — a seeded run gives
/// the same bits on any CPU. Unlike the `Float` products (`ProductScalar`), these stay unfused: e^x is
/// also the scalar e^x of the output heads, compiled for the baseline only, where each fused
/// multiply-add would be a libm call, and the gate steps are a small share of a step's multiply-adds.
public protocol LaneScalar: SIMDScalar, BinaryFloatingPoint, Codable {
    /// e^x in each of eight lanes.
    static func exponential<Target: KernelTarget>(_ x: SIMD8<Self>, on target: Target.Type) -> SIMD8<Self>
    /// e^x in each of sixteen lanes (the AVX-512 instance's vectors): lane for lane the eight-lane value.
    static func exponential<Target: KernelTarget>(_ x: SIMD16<Self>, on target: Target.Type) -> SIMD16<Self>
}

/// The vector the element-wise kernels run in (`SIMD8`; `SIMD16` for the AVX-512 instance): its
/// scalar's e^x lane by lane (`LaneScalar`), so a value computes the same bits in a vector of either
/// width.
public protocol LaneVector: SIMD where Scalar: LaneScalar {
    /// e^x in each lane.
    static func exponential<Target: KernelTarget>(_ x: Self, on target: Target.Type) -> Self
}

extension SIMD8: LaneVector where Scalar: LaneScalar {
    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: Self, on target: Target.Type) -> Self {
        Scalar.exponential(x, on: target)
    }
}

extension SIMD16: LaneVector where Scalar: LaneScalar {
    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: Self, on target: Target.Type) -> Self {
        Scalar.exponential(x, on: target)
    }
}

extension LaneVector {
    /// σ(x) = 1 / (1 + e^−x) in each lane. It saturates: 1 for x ≥ 88 and about 6·10⁻³⁹ (a subnormal,
    /// e^−88) for x ≤ −88 in `Float` (e^x is clamped there), and ±∞ give the same; NaN gives NaN.
    @inlinable @inline(__always)
    public static func sigmoid<Target: KernelTarget>(_ x: Self, on target: Target.Type) -> Self {
        1 / (1 + exponential(-x, on: target))
    }

    /// tanh(x) = 2 / (1 + e^−2x) − 1 in each lane: −1 and 1 at and past ±44 in `Float` (and at ±∞); NaN
    /// gives NaN. Its error is absolute, not relative: near 0 the subtraction cancels, so tanh(x) of a
    /// tiny x comes out as 0 or a multiple of 2⁻²⁴ (`LaneMathTests` states the bound).
    @inlinable @inline(__always)
    public static func tanh<Target: KernelTarget>(_ x: Self, on target: Target.Type) -> Self {
        2 / (1 + exponential(-2 * x, on: target)) - 1
    }
}

extension Float: LaneScalar {
    /// e^x without a branch, a call or a trap: x clamped to [−87, 88] (so e^x is finite and normal or
    /// barely subnormal; ±∞ saturate, NaN stays NaN), then `exponential(clamped:)`. The clamp is
    /// written for each width: the comparisons and selects of a concrete vector type compile to vector
    /// instructions, where their generic forms compile to a loop over the lanes.
    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: SIMD8<Float>, on target: Target.Type) -> SIMD8<Float> {
        let low = SIMD8<Float>(repeating: -87), high = SIMD8<Float>(repeating: 88)
        return exponential(clamped: x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high))
    }

    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: SIMD16<Float>, on target: Target.Type) -> SIMD16<Float> {
        let low = SIMD16<Float>(repeating: -87), high = SIMD16<Float>(repeating: 88)
        return exponential(clamped: x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high))
    }

    /// e^x for x in [−87, 88] (or NaN), in a vector of any width: x = n·ln 2 + r with n rounded to
    /// nearest by the 1.5·2²³ trick and ln 2 split in two (Cody–Waite), e^r by Cephes' degree-6
    /// polynomial on |r| ≤ ln 2 / 2, and 2ⁿ built in the exponent bits. Relative error against the
    /// correctly rounded e^x within about 2 ulp over [−87, 88] (`LaneMathTests` measures it over every
    /// 4,096th `Float`).
    @inlinable @inline(__always)
    static func exponential<V: SIMD>(clamped: V) -> V where V.Scalar == Float {
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let mantissa = p * r * r + r + 1
        // The low bits of `shifted` hold n + 2²² (two's complement n in its mantissa); the lanes' bits
        // are read as `Int32`s, whose wrapping arithmetic gives the same bits as unsigned.
        let shiftedBits = unsafeBitCast(shifted, to: V.MaskStorage.self)
        let exponentBits = (shiftedBits &- 0x4B40_0000 &+ 127) &<< 23
        return mantissa * unsafeBitCast(exponentBits, to: V.self)
    }
}

extension Double: LaneScalar {
    /// Foundation's `exp` lane by lane (the `Double` models are the exactness tests' reference).
    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: SIMD8<Double>, on target: Target.Type) -> SIMD8<Double> {
        laneExponential(x)
    }

    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: SIMD16<Double>, on target: Target.Type) -> SIMD16<Double> {
        laneExponential(x)
    }

    @inlinable @inline(__always)
    static func laneExponential<V: SIMD>(_ x: V) -> V where V.Scalar == Double {
        var result = V()
        for lane in x.indices { result[lane] = Foundation.exp(x[lane]) }
        return result
    }
}

/// One of the lane functions, applied to a buffer (what the tests compare across instances).
public enum LaneFunction: Sendable, CaseIterable {
    case exponential, sigmoid, tanh

    /// `values[k] = f(values[k])` for `k < count`, a `vector` at a time.
    @inlinable
    public func apply<V: LaneVector, Target: KernelTarget>(
        to values: UnsafeMutablePointer<V.Scalar>, count: Int, vector: V.Type, on target: Target.Type
    ) {
        for k in stride(from: 0, to: count, by: V.scalarCount) {
            let x: V = Lanes.load(values, k, count)
            let y: V =
                switch self {
                case .exponential: V.exponential(x, on: target)
                case .sigmoid: V.sigmoid(x, on: target)
                case .tanh: V.tanh(x, on: target)
                }
            Lanes.store(y, values, k, count)
        }
    }
}

/// A vector's worth of consecutive values of a row of `count`, for element-wise loops written once for
/// any width: the last block of a row whose length is not a multiple of the width is read zero-padded
/// and written back only where the row has values. Lane arithmetic is IEEE per lane, so a value
/// computes the same in any block.
public enum Lanes {
    @inlinable @inline(__always)
    public static func load<V: SIMD>(_ row: UnsafePointer<V.Scalar>, _ k: Int, _ count: Int) -> V {
        if k + V.scalarCount <= count { return TiledProduct.loadVector(row + k) }
        var value = V()
        for lane in 0..<(count - k) { value[lane] = row[k + lane] }
        return value
    }

    @inlinable @inline(__always)
    public static func store<V: SIMD>(_ value: V, _ row: UnsafeMutablePointer<V.Scalar>, _ k: Int, _ count: Int) {
        if k + V.scalarCount <= count {
            TiledProduct.storeVector(value, row + k)
            return
        }
        for lane in 0..<(count - k) { row[k + lane] = value[lane] }
    }
}

/// The buffers one forward gate step reads and writes (`GRUGates.forward`; the layouts are described
/// there): the step's `count` running examples, their event rows `rows[0 ..< count]`, `hidden` units.
public struct GRUForwardStep<S: LaneScalar> {
    public let rows: UnsafePointer<Int>
    public let count: Int
    public let hidden: Int
    public let inputProducts: UnsafePointer<S>
    public let stepProducts: UnsafePointer<S>
    public let state: UnsafeMutablePointer<S>
    public let gateValues: UnsafeMutablePointer<S>
    public let output: UnsafeMutablePointer<S>

    @inlinable
    public init(
        rows: UnsafePointer<Int>, count: Int, hidden: Int, inputProducts: UnsafePointer<S>,
        stepProducts: UnsafePointer<S>, state: UnsafeMutablePointer<S>, gateValues: UnsafeMutablePointer<S>,
        output: UnsafeMutablePointer<S>
    ) {
        self.rows = rows
        self.count = count
        self.hidden = hidden
        self.inputProducts = inputProducts
        self.stepProducts = stepProducts
        self.state = state
        self.gateValues = gateValues
        self.output = output
    }
}

/// The buffers one backward gate step reads and writes (`GRUGates.backward`).
public struct GRUBackwardStep<S: LaneScalar> {
    public let rows: UnsafePointer<Int>
    public let count: Int
    public let hidden: Int
    public let gateValues: UnsafePointer<S>
    public let outputDelta: UnsafePointer<S>
    public let stateDelta: UnsafeMutablePointer<S>
    public let inputGateDeltas: UnsafeMutablePointer<S>
    public let recurrentGateDeltas: UnsafeMutablePointer<S>
    public let stepDeltas: UnsafeMutablePointer<S>

    @inlinable
    public init(
        rows: UnsafePointer<Int>, count: Int, hidden: Int, gateValues: UnsafePointer<S>, outputDelta: UnsafePointer<S>,
        stateDelta: UnsafeMutablePointer<S>, inputGateDeltas: UnsafeMutablePointer<S>,
        recurrentGateDeltas: UnsafeMutablePointer<S>, stepDeltas: UnsafeMutablePointer<S>
    ) {
        self.rows = rows
        self.count = count
        self.hidden = hidden
        self.gateValues = gateValues
        self.outputDelta = outputDelta
        self.stateDelta = stateDelta
        self.inputGateDeltas = inputGateDeltas
        self.recurrentGateDeltas = recurrentGateDeltas
        self.stepDeltas = stepDeltas
    }
}

/// The element-wise part of one time step of a GRU (PyTorch's gate equations, `GRULayer` in
/// `VeilLearning`) for the examples still running at that step, one pass over each example's gate
/// row, a `LaneVector` of hidden units at a time (eight, or sixteen on the AVX-512 instance). The
/// matrix products around it are `TiledProduct`'s.
///
/// Rows: a *row* is one event (the chunk's row buffers, indexed by `rows[j]` for the step's example j);
/// a *slot* is one running example (the lock-step buffers, indexed by j). With H hidden units and
/// G = 3·H gate columns (blocks r | z | n):
/// - `inputProducts`: per row, x·W + b_x (G values);
/// - `stepProducts`: per slot, h·U + b_h (G values);
/// - `state`: per slot, h (H values): h_{t−1} on entry, h_t on return;
/// - `gateValues`: per row, r, z, n, h·U_n + b_hn and h_{t−1} (5·H values), what the backward step reads;
/// - `output`: per row, h_t (H values).
///
/// Each unit's values are computed lane by lane with the same IEEE operations whatever the vector's
/// width and the block it falls in, so every instance and width gives the same bits.
public enum GRUGates<Target: KernelTarget> {
    /// The forward step for slots `0 ..< step.count`: r = σ(a_r + g_r), z = σ(a_z + g_z),
    /// n = tanh(a_n + r ⊙ g_n), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}. Whole blocks of a `vector`'s width run
    /// with plain vector loads and stores (a loop with no branch in it); a last partial block goes
    /// through `Lanes`' zero-padded copies — the same arithmetic either way.
    @inlinable
    public static func forward<V: LaneVector>(_ step: GRUForwardStep<V.Scalar>, vector: V.Type) {
        let H = step.hidden, G = 3 &* H, width = V.scalarCount, whole = H - H % width
        for j in 0..<step.count {
            let row = step.rows[j]
            let a = step.inputProducts + row &* G, g = step.stepProducts + j &* G
            let h = step.state + j &* H, values = step.gateValues + row &* (5 &* H), out = step.output + row &* H
            var k = 0
            while k < whole {
                let recurrent: V = TiledProduct.loadVector(g + 2 &* H + k), previous: V = TiledProduct.loadVector(h + k)
                let (reset, update, candidate, next) = forwardLanes(
                    TiledProduct.loadVector(a + k), TiledProduct.loadVector(a + H + k),
                    TiledProduct.loadVector(a + 2 &* H + k), TiledProduct.loadVector(g + k),
                    TiledProduct.loadVector(g + H + k), recurrent, previous)
                TiledProduct.storeVector(reset, values + k)
                TiledProduct.storeVector(update, values + H + k)
                TiledProduct.storeVector(candidate, values + 2 &* H + k)
                TiledProduct.storeVector(recurrent, values + 3 &* H + k)
                TiledProduct.storeVector(previous, values + 4 &* H + k)
                TiledProduct.storeVector(next, out + k)
                TiledProduct.storeVector(next, h + k)
                k &+= width
            }
            guard k < H else { continue }
            let recurrent: V = Lanes.load(g + 2 &* H, k, H), previous: V = Lanes.load(h, k, H)
            let (reset, update, candidate, next) = forwardLanes(
                Lanes.load(a, k, H), Lanes.load(a + H, k, H), Lanes.load(a + 2 &* H, k, H), Lanes.load(g, k, H),
                Lanes.load(g + H, k, H), recurrent, previous)
            Lanes.store(reset, values, k, H)
            Lanes.store(update, values + H, k, H)
            Lanes.store(candidate, values + 2 &* H, k, H)
            Lanes.store(recurrent, values + 3 &* H, k, H)
            Lanes.store(previous, values + 4 &* H, k, H)
            Lanes.store(next, out, k, H)
            Lanes.store(next, h, k, H)
        }
    }

    /// A vector of units of the forward step, from x·W + b_x (`ar`, `az`, `an`), h·U + b_h (`gr`, `gz`,
    /// `gn`) and h_{t−1}: (r, z, n, h_t).
    @inlinable @inline(__always)
    static func forwardLanes<V: LaneVector>(
        _ ar: V, _ az: V, _ an: V, _ gr: V, _ gz: V, _ gn: V, _ previous: V
    ) -> (V, V, V, V) {
        let reset = V.sigmoid(ar + gr, on: Target.self)
        let update = V.sigmoid(az + gz, on: Target.self)
        let candidate = V.tanh(an + reset * gn, on: Target.self)
        return (reset, update, candidate, (1 - update) * candidate + update * previous)
    }

    /// The backward step for slots `0 ..< step.count`, from `gateValues` and the signal dLoss/dh_t =
    /// `outputDelta` (per row, H) + `stateDelta` (per slot, H; dLoss/dh_t from the later steps on
    /// entry, its part through z ⊙ h_{t−1} — `signal ⊙ z` — on return, to which the caller adds the
    /// part through h·U). Writes dLoss/d(x·W + b_x) to `inputGateDeltas` (per row, G), and
    /// dLoss/d(h·U + b_h) to `recurrentGateDeltas` (per row, G) and to `stepDeltas` (per slot, G, the
    /// left factor of the caller's product with Uᵀ). Blocks as in `forward`.
    @inlinable
    public static func backward<V: LaneVector>(_ step: GRUBackwardStep<V.Scalar>, vector: V.Type) {
        let H = step.hidden, G = 3 &* H, width = V.scalarCount, whole = H - H % width
        for j in 0..<step.count {
            let row = step.rows[j]
            let values = step.gateValues + row &* (5 &* H), dOut = step.outputDelta + row &* H
            let dh = step.stateDelta + j &* H
            let da = step.inputGateDeltas + row &* G, dr = step.recurrentGateDeltas + row &* G
            let dg = step.stepDeltas + j &* G
            var k = 0
            while k < whole {
                let signal: V = TiledProduct.loadVector(dOut + k) + TiledProduct.loadVector(dh + k)
                let (dReset, dUpdate, dCandidate, dRecurrentCandidate, dPrevious) = backwardLanes(
                    TiledProduct.loadVector(values + k), TiledProduct.loadVector(values + H + k),
                    TiledProduct.loadVector(values + 2 &* H + k), TiledProduct.loadVector(values + 3 &* H + k),
                    TiledProduct.loadVector(values + 4 &* H + k), signal)
                TiledProduct.storeVector(dReset, da + k)
                TiledProduct.storeVector(dUpdate, da + H + k)
                TiledProduct.storeVector(dCandidate, da + 2 &* H + k)
                TiledProduct.storeVector(dReset, dr + k)
                TiledProduct.storeVector(dUpdate, dr + H + k)
                TiledProduct.storeVector(dRecurrentCandidate, dr + 2 &* H + k)
                TiledProduct.storeVector(dReset, dg + k)
                TiledProduct.storeVector(dUpdate, dg + H + k)
                TiledProduct.storeVector(dRecurrentCandidate, dg + 2 &* H + k)
                TiledProduct.storeVector(dPrevious, dh + k)
                k &+= width
            }
            guard k < H else { continue }
            let signal: V = Lanes.load(dOut, k, H) + Lanes.load(dh, k, H)
            let (dReset, dUpdate, dCandidate, dRecurrentCandidate, dPrevious) = backwardLanes(
                Lanes.load(values, k, H), Lanes.load(values + H, k, H), Lanes.load(values + 2 &* H, k, H),
                Lanes.load(values + 3 &* H, k, H), Lanes.load(values + 4 &* H, k, H), signal)
            Lanes.store(dReset, da, k, H)
            Lanes.store(dUpdate, da + H, k, H)
            Lanes.store(dCandidate, da + 2 &* H, k, H)
            Lanes.store(dReset, dr, k, H)
            Lanes.store(dUpdate, dr + H, k, H)
            Lanes.store(dRecurrentCandidate, dr + 2 &* H, k, H)
            Lanes.store(dReset, dg, k, H)
            Lanes.store(dUpdate, dg + H, k, H)
            Lanes.store(dRecurrentCandidate, dg + 2 &* H, k, H)
            Lanes.store(dPrevious, dh, k, H)
        }
    }

    /// A vector of units of the backward step, from r, z, n, h·U_n + b_hn, h_{t−1} and the signal
    /// dLoss/dh_t: (dLoss/d of the r, z and n pre-activations; dLoss/d(h·U_n + b_hn) = dn ⊙ r;
    /// dLoss/dh_{t−1} through z ⊙ h_{t−1}).
    @inlinable @inline(__always)
    static func backwardLanes<V: LaneVector>(
        _ reset: V, _ update: V, _ candidate: V, _ recurrent: V, _ previous: V, _ signal: V
    ) -> (V, V, V, V, V) {
        let dCandidate = signal * (1 - update) * (1 - candidate * candidate)
        let dUpdate = signal * (previous - candidate) * update * (1 - update)
        let dReset = dCandidate * recurrent * reset * (1 - reset)
        return (dReset, dUpdate, dCandidate, dCandidate * reset, signal * update)
    }
}
