import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A radix-2 fast Fourier transform of one power-of-two length, on split complex arrays (real and
/// imaginary parts in two `[Double]`s).
///
/// The transform skips the bit-reversal permutation: `forward` takes a sequence in natural order and
/// leaves its spectrum in **bit-reversed order** (decimation in frequency), and `inverse` takes a
/// spectrum in that order back to a sequence in natural order (decimation in time). Convolution only
/// multiplies spectra element by element, which does not care about the order, so no permutation pass
/// is ever needed. `mirror(_:)` gives the position of the frequency −k for the frequency k at a
/// position, which is what separating two real sequences packed into one complex one needs.
///
/// Contract: `forward` computes `X_k = Σ_n x_n e^{−2πi kn/N}`; `inverse` computes
/// `x_n = (1/N) Σ_k X_k e^{+2πi kn/N}`, so `inverse(forward(x)) = x` to rounding (about 1e-16 of the
/// largest magnitude per element times log₂ N).
struct FFT: Sendable {
    /// The length N, a power of two ≥ 2.
    let size: Int
    /// `cos(2πj/m)` and `sin(2πj/m)` for each butterfly span m = 2, 4, …, N and j < m/2, stored from
    /// index m/2: one contiguous run per stage, so every stage reads its twiddles in order.
    private let cosines: [Double]
    private let sines: [Double]

    /// Spans up to this many elements are transformed one block at a time, so a block stays in the
    /// cache through all of its stages (2¹³ points of two `Double` arrays = 128 KiB).
    private static let blockSize = 1 << 13

    /// A transform of length `size`. Contract: `size` is a power of two ≥ 2.
    init(size: Int) {
        precondition(size >= 2 && size & (size - 1) == 0, "FFT length must be a power of two")
        self.size = size
        let (cosines, sines) = Self.stageTwiddles(size: size)
        self.cosines = cosines
        self.sines = sines
    }

    /// A transform of length `size`, from a cache of the two most recently used lengths: its twiddle
    /// tables (16 bytes per point) are built once, not on every composition. Contract: as `init`.
    static func shared(size: Int) -> FFT {
        if let cached = cache.withLock({ $0.first { $0.size == size } }) { return cached }
        let fft = FFT(size: size)
        cache.withLock { cached in
            cached.removeAll { $0.size == size }
            cached.insert(fft, at: 0)
            if cached.count > 2 { cached.removeLast() }
        }
        return fft
    }

    private static let cache = Mutex<[FFT]>([])

    /// The smallest power of two ≥ `length` (and ≥ 2).
    static func size(atLeast length: Int) -> Int {
        var size = 2
        while size < length { size <<= 1 }
        return size
    }

    /// The position of frequency `(N − k) mod N` when `position` holds frequency k in bit-reversed
    /// order: positions 0 and 1 hold 0 and N/2, which are their own mirrors; otherwise a position in
    /// [2ʲ, 2ʲ⁺¹) mirrors to `3·2ʲ − 1 − position`.
    static func mirror(_ position: Int) -> Int {
        if position < 2 { return position }
        let octave = 1 << (Int.bitWidth - 1 - position.leadingZeroBitCount)
        return 3 * octave - 1 - position
    }

    /// Natural order in, spectrum in bit-reversed order out (`e^{−2πi kn/N}`).
    ///
    /// `nonZeroCount`: the input is 0 from that index on (zero padding), which lets the first stages
    /// be skipped: after s stages of decimation in frequency on an input that fits in N/2ˢ points,
    /// block b of N/2ˢ points holds `x_j · e^{−2πi j·c/N}` for j below the count (and 0 after it),
    /// c the s-bit reversal of b — one complex product per point instead of s passes of butterflies.
    /// The result is the same transform, with each twiddle rounded once instead of s times.
    func forward(_ real: inout [Double], _ imaginary: inout [Double], nonZeroCount: Int? = nil) {
        precondition(real.count == size && imaginary.count == size, "FFT input length")
        precondition((nonZeroCount ?? 1) >= 1, "a non-zero prefix of at least one point")
        withBuffers(&real, &imaginary) { data in
            var span = size
            if let count = nonZeroCount {
                var stages = 0
                while span / 2 >= count && span > 2 {
                    span /= 2
                    stages += 1
                }
                if stages > 0 { spreadZeroPadded(data, count: count, stages: stages) }
            }
            // Spans above the block size pass over the whole array, two stages per pass where possible.
            while span > Self.blockSize {
                if span / 2 > Self.blockSize {
                    run(.frequencyTwoStages, span: span, data, from: 0, to: size)
                    span >>= 2
                } else {
                    run(.frequencyStage, span: span, data, from: 0, to: size)
                    span >>= 1
                }
            }
            // The rest, one cache-sized block at a time.
            for start in stride(from: 0, to: size, by: span) {
                var inner = span
                while inner >= 4 {
                    run(.frequencyTwoStages, span: inner, data, from: start, to: start + span)
                    inner >>= 2
                }
                if inner == 2 { run(.frequencyStage, span: 2, data, from: start, to: start + span) }
            }
        }
    }

    /// The first `stages` stages of `forward` on an input that is 0 from `count` on: block b (of
    /// N/2^stages points) becomes `x_j · e^{−2πi j·c/N}`, c the `stages`-bit reversal of b. Block 0 is
    /// the input itself (c = 0); the others are written from it, last block first.
    private func spreadZeroPadded(_ data: Buffers, count: Int, stages: Int) {
        let block = size >> stages
        let half = size / 2
        for b in stride(from: (1 << stages) - 1, through: 1, by: -1) {
            var c = 0
            for bit in 0..<stages where b & (1 << bit) != 0 { c |= 1 << (stages - 1 - bit) }
            let start = b * block
            for j in 0..<count {
                // e^{2πi t/N} from the span-N table (t < N/2) or its negative (t ≥ N/2); j·c < N.
                let t = j * c
                let (cosine, sine) = t < half ? (data.cosine[half + t], data.sine[half + t]) : (-data.cosine[t], -data.sine[t])
                let (xr, xi) = (data.re[j], data.im[j])
                data.re[start + j] = xr * cosine + xi * sine
                data.im[start + j] = xi * cosine - xr * sine
            }
            (data.re + start + count).update(repeating: 0, count: block - count)
            (data.im + start + count).update(repeating: 0, count: block - count)
        }
        (data.re + count).update(repeating: 0, count: block - count)
        (data.im + count).update(repeating: 0, count: block - count)
    }

    /// Spectrum in bit-reversed order in, sequence in natural order out (`e^{+2πi kn/N}`, scaled by 1/N).
    func inverse(_ real: inout [Double], _ imaginary: inout [Double]) {
        precondition(real.count == size && imaginary.count == size, "FFT input length")
        withBuffers(&real, &imaginary) { data in
            let block = min(size, Self.blockSize)
            for start in stride(from: 0, to: size, by: block) {
                var span = 2
                if block.trailingZeroBitCount % 2 == 1 {
                    run(.timeStage, span: 2, data, from: start, to: start + block)
                    span = 4
                }
                while span < block {
                    run(.timeTwoStages, span: span * 2, data, from: start, to: start + block)
                    span <<= 2
                }
            }
            var span = block * 2
            while span <= size {
                if span < size {
                    run(.timeTwoStages, span: span * 2, data, from: 0, to: size)
                    span <<= 2
                } else {
                    run(.timeStage, span: span, data, from: 0, to: size)
                    span <<= 1
                }
            }
            let scale = 1 / Double(size)
            for index in 0..<size {
                data.re[index] *= scale
                data.im[index] *= scale
            }
        }
    }

    /// The two arrays and the twiddle tables as unsafe pointers, for the stage loops.
    private struct Buffers {
        let re: UnsafeMutablePointer<Double>
        let im: UnsafeMutablePointer<Double>
        let cosine: UnsafePointer<Double>
        let sine: UnsafePointer<Double>

        @inline(__always) func load<L: Lane>(_ i: Int) -> ComplexLanes<L> { ComplexLanes(L.load(re + i), L.load(im + i)) }
        @inline(__always) func store<L: Lane>(_ z: ComplexLanes<L>, _ i: Int) {
            z.re.store(re + i)
            z.im.store(im + i)
        }
        /// `e^{+2πi j/span}`, stored at `span/2 + j`.
        @inline(__always) func twiddle<L: Lane>(_ index: Int) -> ComplexLanes<L> {
            ComplexLanes(L.load(cosine + index), L.load(sine + index))
        }
    }

    private func withBuffers(_ real: inout [Double], _ imaginary: inout [Double], _ body: (Buffers) -> Void) {
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in
                cosines.withUnsafeBufferPointer { cosine in
                    sines.withUnsafeBufferPointer { sine in
                        body(Buffers(re: re.baseAddress!, im: im.baseAddress!, cosine: cosine.baseAddress!, sine: sine.baseAddress!))
                    }
                }
            }
        }
    }

    /// The four kinds of pass over the data.
    private enum Pass {
        case frequencyStage, frequencyTwoStages, timeStage, timeTwoStages
    }

    /// Runs `pass` at `span` over `[from, to)`, two butterflies at a time (SIMD2) when its inner loop
    /// has at least two.
    private func run(_ pass: Pass, span: Int, _ data: Buffers, from: Int, to: Int) {
        let inner = pass == .frequencyStage || pass == .timeStage ? span / 2 : span / 4
        if inner >= 2 {
            run(pass, span: span, data, from: from, to: to, lanes: SIMD2<Double>.self)
        } else {
            run(pass, span: span, data, from: from, to: to, lanes: Double.self)
        }
    }

    @inline(__always)
    private func run<L: Lane>(_ pass: Pass, span: Int, _ data: Buffers, from: Int, to: Int, lanes: L.Type) {
        switch pass {
        case .frequencyStage: decimationInFrequency(stage: span, data, from: from, to: to, lanes: lanes)
        case .frequencyTwoStages: decimationInFrequency(twoStagesFrom: span, data, from: from, to: to, lanes: lanes)
        case .timeStage: decimationInTime(stage: span, data, from: from, to: to, lanes: lanes)
        case .timeTwoStages: decimationInTime(twoStagesTo: span, data, from: from, to: to, lanes: lanes)
        }
    }

    /// One Gentleman–Sande stage over `[from, to)`: `(a, b) → (a + b, (a − b)·w̄ʲ)`, `w = e^{2πi/span}`.
    @inline(__always)
    private func decimationInFrequency<L: Lane>(stage span: Int, _ data: Buffers, from: Int, to: Int, lanes: L.Type) {
        let half = span >> 1
        for group in stride(from: from, to: to, by: span) {
            for j in stride(from: 0, to: half, by: L.width) {
                let (a, b): (ComplexLanes<L>, ComplexLanes<L>) = (data.load(group + j), data.load(group + j + half))
                data.store(a + b, group + j)
                data.store((a - b) * data.twiddle(half + j).conjugate, group + j + half)
            }
        }
    }

    /// The stages of spans `span` and `span/2` in one pass, on four elements a quarter span apart.
    @inline(__always)
    private func decimationInFrequency<L: Lane>(twoStagesFrom span: Int, _ data: Buffers, from: Int, to: Int, lanes: L.Type) {
        let (quarter, half) = (span >> 2, span >> 1)
        for group in stride(from: from, to: to, by: span) {
            for j in stride(from: 0, to: quarter, by: L.width) {
                let (i0, i1, i2, i3) = (group + j, group + j + quarter, group + j + half, group + j + half + quarter)
                let (a0, a1, a2, a3): (ComplexLanes<L>, ComplexLanes<L>, ComplexLanes<L>, ComplexLanes<L>) =
                    (data.load(i0), data.load(i1), data.load(i2), data.load(i3))
                let b0 = a0 + a2
                let b1 = a1 + a3
                let b2 = (a0 - a2) * data.twiddle(half + j).conjugate
                let b3 = (a1 - a3) * data.twiddle(half + j + quarter).conjugate
                let w: ComplexLanes<L> = data.twiddle(quarter + j).conjugate
                data.store(b0 + b1, i0)
                data.store((b0 - b1) * w, i1)
                data.store(b2 + b3, i2)
                data.store((b2 - b3) * w, i3)
            }
        }
    }

    /// One Cooley–Tukey stage over `[from, to)`: `(a, b) → (a + b·wʲ, a − b·wʲ)`, `w = e^{2πi/span}`.
    @inline(__always)
    private func decimationInTime<L: Lane>(stage span: Int, _ data: Buffers, from: Int, to: Int, lanes: L.Type) {
        let half = span >> 1
        for group in stride(from: from, to: to, by: span) {
            for j in stride(from: 0, to: half, by: L.width) {
                let a: ComplexLanes<L> = data.load(group + j)
                let t: ComplexLanes<L> = data.load(group + j + half) * data.twiddle(half + j)
                data.store(a + t, group + j)
                data.store(a - t, group + j + half)
            }
        }
    }

    /// The stages of spans `span/2` and `span` in one pass, on four elements a quarter span apart.
    @inline(__always)
    private func decimationInTime<L: Lane>(twoStagesTo span: Int, _ data: Buffers, from: Int, to: Int, lanes: L.Type) {
        let (quarter, half) = (span >> 2, span >> 1)
        for group in stride(from: from, to: to, by: span) {
            for j in stride(from: 0, to: quarter, by: L.width) {
                let (i0, i1, i2, i3) = (group + j, group + j + quarter, group + j + half, group + j + half + quarter)
                let w: ComplexLanes<L> = data.twiddle(quarter + j)
                let t1: ComplexLanes<L> = data.load(i1) * w
                let t3: ComplexLanes<L> = data.load(i3) * w
                let (a0, a2): (ComplexLanes<L>, ComplexLanes<L>) = (data.load(i0), data.load(i2))
                let (b0, b1, b2, b3) = (a0 + t1, a0 - t1, a2 + t3, a2 - t3)
                let u2 = b2 * data.twiddle(half + j)
                let u3 = b3 * data.twiddle(half + j + quarter)
                data.store(b0 + u2, i0)
                data.store(b0 - u2, i2)
                data.store(b1 + u3, i1)
                data.store(b1 - u3, i3)
            }
        }
    }

    /// The per-stage twiddle tables. Angles `2πt/N` for t < N/2 are formed as the product of a coarse
    /// and a fine table (`t = hi·S + lo`), so only about 2√N cosines and sines are evaluated and
    /// every entry is within a few ulps of the exact value.
    private static func stageTwiddles(size: Int) -> ([Double], [Double]) {
        let count = size / 2
        var fineCount = 1
        while fineCount * fineCount < count { fineCount <<= 1 }
        let coarseCount = (count + fineCount - 1) / fineCount
        let step = 2 * Double.pi / Double(size)
        let fine = (0..<fineCount).map { (cos(step * Double($0)), sin(step * Double($0))) }
        let coarse = (0..<coarseCount).map { (cos(step * Double($0 * fineCount)), sin(step * Double($0 * fineCount))) }
        var cosines = [Double](repeating: 0, count: size)
        var sines = [Double](repeating: 0, count: size)
        var half = 1
        while half <= count {
            // Stage of span 2·half: angle 2πj/(2·half) = step · j·(N/(2·half)).
            let stride = count / half
            for j in 0..<half {
                let t = j * stride
                let (hc, hs) = coarse[t / fineCount]
                let (lc, ls) = fine[t % fineCount]
                cosines[half + j] = hc * lc - hs * ls
                sines[half + j] = hs * lc + hc * ls
            }
            half <<= 1
        }
        return (cosines, sines)
    }
}

/// One or two `Double`s processed together by the butterflies.
private protocol Lane {
    static var width: Int { get }
    static func load(_ pointer: UnsafePointer<Double>) -> Self
    func store(_ pointer: UnsafeMutablePointer<Double>)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    prefix static func - (a: Self) -> Self
}

extension Double: Lane {
    static var width: Int { 1 }
    @inline(__always) static func load(_ pointer: UnsafePointer<Double>) -> Double { pointer.pointee }
    @inline(__always) func store(_ pointer: UnsafeMutablePointer<Double>) { pointer.pointee = self }
}

extension SIMD2<Double>: Lane {
    static var width: Int { 2 }
    @inline(__always) static func load(_ pointer: UnsafePointer<Double>) -> SIMD2<Double> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD2<Double>.self)
    }
    @inline(__always) func store(_ pointer: UnsafeMutablePointer<Double>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: SIMD2<Double>.self)
    }
}

/// Complex numbers, one per lane, for the butterflies.
private struct ComplexLanes<L: Lane> {
    var re: L
    var im: L

    @inline(__always) init(_ re: L, _ im: L) {
        self.re = re
        self.im = im
    }

    @inline(__always) var conjugate: ComplexLanes { ComplexLanes(re, -im) }

    @inline(__always) static func + (a: ComplexLanes, b: ComplexLanes) -> ComplexLanes { ComplexLanes(a.re + b.re, a.im + b.im) }
    @inline(__always) static func - (a: ComplexLanes, b: ComplexLanes) -> ComplexLanes { ComplexLanes(a.re - b.re, a.im - b.im) }
    @inline(__always) static func * (a: ComplexLanes, b: ComplexLanes) -> ComplexLanes {
        ComplexLanes(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
}
