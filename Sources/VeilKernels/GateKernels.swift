import Foundation

/// Which compiled instance of the kernels a specialisation belongs to: `BaselineTarget` (the x86-64
/// baseline, SSE2, compiled into `VeilLearning`), `WideTarget` (AVX2, compiled into `VeilWideKernels`)
/// or `AVX512Target` (AVX-512, compiled into `VeilAVX512Kernels`; the products only). The kernels take
/// it as a generic parameter only to keep the instances apart at link time — specialisations with the
/// same name from two modules are merged into one copy (see `TiledProduct.TileHeight`) — and compute
/// the same values under any.
public protocol KernelTarget {}

/// The x86-64 baseline instance (SSE2).
public enum BaselineTarget: KernelTarget {}

/// The AVX2 instance (`VeilWideKernels`).
public enum WideTarget: KernelTarget {}

/// The AVX-512 instance of the products (`VeilAVX512Kernels`).
public enum AVX512Target: KernelTarget {}

/// A precision the element-wise kernels run in, eight lanes at a time: e^x, the logistic sigmoid and
/// tanh on `SIMD8`. Every lane is computed on its own by IEEE operations (a multiply, then an add;
/// never fused; a correctly rounded division), so a value is the same bits in any lane, in any block,
/// and under either `KernelTarget` — a seeded run gives the same bits on any CPU. Unlike the `Float`
/// products (`ProductScalar`), these stay unfused: e^x is also the scalar e^x of the output heads,
/// compiled for the baseline only, where each fused multiply-add would be a libm call, and the gate
/// steps are a small share of a step's multiply-adds.
public protocol LaneScalar: SIMDScalar, BinaryFloatingPoint, Codable {
    /// e^x in each lane.
    static func exponential<Target: KernelTarget>(_ x: SIMD8<Self>, on target: Target.Type) -> SIMD8<Self>
}

extension LaneScalar {
    /// σ(x) = 1 / (1 + e^−x) in each lane. It saturates: 1 for x ≥ 88 and about 6·10⁻³⁹ (a subnormal,
    /// e^−88) for x ≤ −88 in `Float` (e^x is clamped there), and ±∞ give the same; NaN gives NaN.
    @inlinable @inline(__always)
    public static func sigmoid<Target: KernelTarget>(_ x: SIMD8<Self>, on target: Target.Type) -> SIMD8<Self> {
        1 / (1 + exponential(-x, on: target))
    }

    /// tanh(x) = 2 / (1 + e^−2x) − 1 in each lane: −1 and 1 at and past ±44 in `Float` (and at ±∞); NaN
    /// gives NaN. Its error is absolute, not relative: near 0 the subtraction cancels, so tanh(x) of a
    /// tiny x comes out as 0 or a multiple of 2⁻²⁴ (`LaneMathTests` states the bound).
    @inlinable @inline(__always)
    public static func tanh<Target: KernelTarget>(_ x: SIMD8<Self>, on target: Target.Type) -> SIMD8<Self> {
        2 / (1 + exponential(-2 * x, on: target)) - 1
    }
}

extension Float: LaneScalar {
    /// e^x without a branch, a call or a trap: x clamped to [−87, 88] (so e^x is finite and normal or
    /// barely subnormal; ±∞ saturate, NaN stays NaN), x = n·ln 2 + r with n rounded to nearest by the
    /// 1.5·2²³ trick and ln 2 split in two (Cody–Waite), e^r by Cephes' degree-6 polynomial on
    /// |r| ≤ ln 2 / 2, and 2ⁿ built in the exponent bits. Relative error against the correctly rounded
    /// e^x within about 2 ulp over [−87, 88] (`LaneMathTests` measures it over every 4,096th `Float`).
    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: SIMD8<Float>, on target: Target.Type) -> SIMD8<Float> {
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
}

extension Double: LaneScalar {
    /// Foundation's `exp` lane by lane (the `Double` models are the exactness tests' reference).
    @inlinable @inline(__always)
    public static func exponential<Target: KernelTarget>(_ x: SIMD8<Double>, on target: Target.Type) -> SIMD8<Double> {
        var result = SIMD8<Double>()
        for lane in 0..<8 { result[lane] = Foundation.exp(x[lane]) }
        return result
    }
}

/// One of the lane functions, applied to a buffer (what the tests compare across instances).
public enum LaneFunction: Sendable, CaseIterable {
    case exponential, sigmoid, tanh

    /// `values[k] = f(values[k])` for `k < count`, eight at a time.
    @inlinable
    public func apply<S: LaneScalar, Target: KernelTarget>(
        to values: UnsafeMutablePointer<S>, count: Int, on target: Target.Type
    ) {
        for k in stride(from: 0, to: count, by: 8) {
            let x = Lanes.load(values, k, count)
            let y: SIMD8<S> =
                switch self {
                case .exponential: S.exponential(x, on: target)
                case .sigmoid: S.sigmoid(x, on: target)
                case .tanh: S.tanh(x, on: target)
                }
            Lanes.store(y, values, k, count)
        }
    }
}

/// Eight consecutive values of a row of `count` as one vector, for element-wise loops written once in
/// `SIMD8` lanes: the last block of a row whose length is not a multiple of 8 is read zero-padded and
/// written back only where the row has values. Lane arithmetic is IEEE per lane, so a value computes
/// the same in any block.
public enum Lanes {
    @inlinable @inline(__always)
    public static func load<S: SIMDScalar>(_ row: UnsafePointer<S>, _ k: Int, _ count: Int) -> SIMD8<S> {
        if k + 8 <= count { return TiledProduct.load(row + k) }
        var value = SIMD8<S>()
        for lane in 0..<(count - k) { value[lane] = row[k + lane] }
        return value
    }

    @inlinable @inline(__always)
    public static func store<S: SIMDScalar>(_ value: SIMD8<S>, _ row: UnsafeMutablePointer<S>, _ k: Int, _ count: Int) {
        if k + 8 <= count {
            TiledProduct.store(value, row + k)
            return
        }
        for lane in 0..<(count - k) { row[k + lane] = value[lane] }
    }
}

/// The element-wise part of one time step of a GRU (PyTorch's gate equations, `GRULayer` in
/// `VeilLearning`) for the examples still running at that step, one pass over each example's gate
/// row, eight hidden units at a time. The matrix products around it are `TiledProduct`'s.
///
/// Rows: a *row* is one event (the chunk's row buffers, indexed by `rows[j]` for the step's example j);
/// a *slot* is one running example (the lock-step buffers, indexed by j). With H hidden units and
/// G = 3·H gate columns (blocks r | z | n):
/// - `inputProducts`: per row, x·W + b_x (G values);
/// - `stepProducts`: per slot, h·U + b_h (G values);
/// - `state`: per slot, h (H values): h_{t−1} on entry, h_t on return;
/// - `gateValues`: per row, r, z, n, h·U_n + b_hn and h_{t−1} (5·H values), what the backward step reads;
/// - `output`: per row, h_t (H values).
public enum GRUGates<Target: KernelTarget> {
    /// The forward step for slots `0 ..< count`: r = σ(a_r + g_r), z = σ(a_z + g_z),
    /// n = tanh(a_n + r ⊙ g_n), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}. Whole blocks of eight units run with
    /// plain vector loads and stores (a loop with no branch in it); a last partial block goes through
    /// `Lanes`' zero-padded copies — the same arithmetic either way.
    @inlinable
    public static func forward<S: LaneScalar>(
        rows: UnsafePointer<Int>, count: Int, hidden H: Int, inputProducts: UnsafePointer<S>,
        stepProducts: UnsafePointer<S>, state: UnsafeMutablePointer<S>, gateValues: UnsafeMutablePointer<S>,
        output: UnsafeMutablePointer<S>
    ) {
        let G = 3 &* H, whole = H & ~7
        for j in 0..<count {
            let row = rows[j]
            let a = inputProducts + row &* G, g = stepProducts + j &* G
            let h = state + j &* H, values = gateValues + row &* (5 &* H), out = output + row &* H
            var k = 0
            while k < whole {
                let (reset, update, candidate, next) = forwardLanes(
                    TiledProduct.load(a + k), TiledProduct.load(a + H + k), TiledProduct.load(a + 2 &* H + k),
                    TiledProduct.load(g + k), TiledProduct.load(g + H + k), TiledProduct.load(g + 2 &* H + k),
                    TiledProduct.load(h + k))
                TiledProduct.store(reset, values + k)
                TiledProduct.store(update, values + H + k)
                TiledProduct.store(candidate, values + 2 &* H + k)
                TiledProduct.store(TiledProduct.load(g + 2 &* H + k), values + 3 &* H + k)
                TiledProduct.store(TiledProduct.load(h + k), values + 4 &* H + k)
                TiledProduct.store(next, out + k)
                TiledProduct.store(next, h + k)
                k &+= 8
            }
            guard k < H else { continue }
            let recurrent = Lanes.load(g + 2 &* H, k, H), previous = Lanes.load(h, k, H)
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

    /// Eight units of the forward step, from x·W + b_x (`ar`, `az`, `an`), h·U + b_h (`gr`, `gz`, `gn`)
    /// and h_{t−1}: (r, z, n, h_t).
    @inlinable @inline(__always)
    static func forwardLanes<S: LaneScalar>(
        _ ar: SIMD8<S>, _ az: SIMD8<S>, _ an: SIMD8<S>, _ gr: SIMD8<S>, _ gz: SIMD8<S>, _ gn: SIMD8<S>,
        _ previous: SIMD8<S>
    ) -> (SIMD8<S>, SIMD8<S>, SIMD8<S>, SIMD8<S>) {
        let reset = S.sigmoid(ar + gr, on: Target.self)
        let update = S.sigmoid(az + gz, on: Target.self)
        let candidate = S.tanh(an + reset * gn, on: Target.self)
        return (reset, update, candidate, (1 - update) * candidate + update * previous)
    }

    /// The backward step for slots `0 ..< count`, from `gateValues` and the signal dLoss/dh_t =
    /// `outputDelta` (per row, H) + `stateDelta` (per slot, H; dLoss/dh_t from the later steps on
    /// entry, its part through z ⊙ h_{t−1} — `signal ⊙ z` — on return, to which the caller adds the
    /// part through h·U). Writes dLoss/d(x·W + b_x) to `inputGateDeltas` (per row, G), and
    /// dLoss/d(h·U + b_h) to `recurrentGateDeltas` (per row, G) and to `stepDeltas` (per slot, G, the
    /// left factor of the caller's product with Uᵀ). Blocks as in `forward`.
    @inlinable
    public static func backward<S: LaneScalar>(
        rows: UnsafePointer<Int>, count: Int, hidden H: Int, gateValues: UnsafePointer<S>,
        outputDelta: UnsafePointer<S>, stateDelta: UnsafeMutablePointer<S>, inputGateDeltas: UnsafeMutablePointer<S>,
        recurrentGateDeltas: UnsafeMutablePointer<S>, stepDeltas: UnsafeMutablePointer<S>
    ) {
        let G = 3 &* H, whole = H & ~7
        for j in 0..<count {
            let row = rows[j]
            let values = gateValues + row &* (5 &* H), dOut = outputDelta + row &* H, dh = stateDelta + j &* H
            let da = inputGateDeltas + row &* G, dr = recurrentGateDeltas + row &* G, dg = stepDeltas + j &* G
            var k = 0
            while k < whole {
                let (dReset, dUpdate, dCandidate, dRecurrentCandidate, dPrevious) = backwardLanes(
                    TiledProduct.load(values + k), TiledProduct.load(values + H + k),
                    TiledProduct.load(values + 2 &* H + k), TiledProduct.load(values + 3 &* H + k),
                    TiledProduct.load(values + 4 &* H + k), TiledProduct.load(dOut + k) + TiledProduct.load(dh + k))
                TiledProduct.store(dReset, da + k)
                TiledProduct.store(dUpdate, da + H + k)
                TiledProduct.store(dCandidate, da + 2 &* H + k)
                TiledProduct.store(dReset, dr + k)
                TiledProduct.store(dUpdate, dr + H + k)
                TiledProduct.store(dRecurrentCandidate, dr + 2 &* H + k)
                TiledProduct.store(dReset, dg + k)
                TiledProduct.store(dUpdate, dg + H + k)
                TiledProduct.store(dRecurrentCandidate, dg + 2 &* H + k)
                TiledProduct.store(dPrevious, dh + k)
                k &+= 8
            }
            guard k < H else { continue }
            let (dReset, dUpdate, dCandidate, dRecurrentCandidate, dPrevious) = backwardLanes(
                Lanes.load(values, k, H), Lanes.load(values + H, k, H), Lanes.load(values + 2 &* H, k, H),
                Lanes.load(values + 3 &* H, k, H), Lanes.load(values + 4 &* H, k, H),
                Lanes.load(dOut, k, H) + Lanes.load(dh, k, H))
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

    /// Eight units of the backward step, from r, z, n, h·U_n + b_hn, h_{t−1} and the signal dLoss/dh_t:
    /// (dLoss/d of the r, z and n pre-activations; dLoss/d(h·U_n + b_hn) = dn ⊙ r; dLoss/dh_{t−1}
    /// through z ⊙ h_{t−1}).
    @inlinable @inline(__always)
    static func backwardLanes<S: LaneScalar>(
        _ reset: SIMD8<S>, _ update: SIMD8<S>, _ candidate: SIMD8<S>, _ recurrent: SIMD8<S>, _ previous: SIMD8<S>,
        _ signal: SIMD8<S>
    ) -> (SIMD8<S>, SIMD8<S>, SIMD8<S>, SIMD8<S>, SIMD8<S>) {
        let dCandidate = signal * (1 - update) * (1 - candidate * candidate)
        let dUpdate = signal * (previous - candidate) * update * (1 - update)
        let dReset = dCandidate * recurrent * reset * (1 - reset)
        return (dReset, dUpdate, dCandidate, dCandidate * reset, signal * update)
    }
}
