#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Convolutions of real sequences through `FFT`, two real sequences per complex transform: x goes in
/// the real part and y in the imaginary part, and their spectra are separated as
/// `X_k = (Z_k + conj Z_{−k})/2`, `Y_k = (Z_k − conj Z_{−k})/2i`.
enum RealConvolution {
    /// Below this many non-zero elements in one sequence (a pure ε-DP release has two), the direct sum
    /// is cheaper than a transform.
    static let directLimit = 32

    /// The linear convolution of `a` and `b` (length `a.count + b.count − 1`): the direct sum over the
    /// non-zero elements of one when it has fewer than `directLimit`, else by FFT. Contract: both
    /// non-empty. Rounding of the FFT: about 1e-16 × Σa × Σb per element, which can make an element
    /// that should be 0 slightly negative.
    static func convolve(_ a: [Double], _ b: [Double]) -> [Double] {
        precondition(!a.isEmpty && !b.isEmpty, "convolution of an empty sequence")
        let length = a.count + b.count - 1
        if let sparse = Sparse(a, b) { return sparse.elements(0..<length) }
        let fft = FFT.shared(size: FFT.size(atLeast: length))
        var (re, im) = packed(a, b, size: fft.size)
        fft.forward(&re, &im, nonZeroCount: max(a.count, b.count))
        var (productRe, productIm) = ([Double](repeating: 0, count: fft.size), [Double](repeating: 0, count: fft.size))
        re.withUnsafeBufferPointer { re in
            im.withUnsafeBufferPointer { im in
                for position in 0..<fft.size {
                    let (x, y) = separate(re, im, at: position, mirror: FFT.mirror(position))
                    productRe[position] = x.re * y.re - x.im * y.im
                    productIm[position] = x.re * y.im + x.im * y.re
                }
            }
        }
        fft.inverse(&productRe, &productIm)
        return Array(productRe[0..<length])
    }

    /// The `times`-fold self-convolution of `x` and of `y`, each read circularly modulo `size` (a
    /// power of two ≥ both lengths): element n of a result is the sum of the true self-convolution's
    /// elements at n, n ± size, n ± 2·size, … The caller chooses `size` so that the elements it
    /// reads hold all but a negligible mass.
    ///
    /// The spectrum is raised to the power `times` in polar form, `|X|ᵗ e^{it·arg X}`; a frequency
    /// whose power is below 1e-300 is set to 0, which is exact to double precision and skips most of
    /// the spectrum for large `times`.
    static func selfConvolve(_ x: [Double], _ y: [Double]?, times: Int, size: Int) -> (x: [Double], y: [Double]?) {
        precondition(times >= 1 && x.count <= size && (y?.count ?? 0) <= size, "self-convolution size")
        let fft = FFT.shared(size: size)
        var (re, im) = packed(x, y ?? [], size: size)
        fft.forward(&re, &im, nonZeroCount: max(x.count, y?.count ?? 0))
        let exponent = Double(times)
        // |z|ᵗ < 1e-300  ⟺  |z|² < exp(2·ln(1e-300)/t).
        let negligibleSquare = exp(2 * log(1e-300) / exponent)
        func power(_ z: (re: Double, im: Double)) -> (re: Double, im: Double) {
            let square = z.re * z.re + z.im * z.im
            guard square >= negligibleSquare else { return (0, 0) }
            let modulus = exp(0.5 * exponent * log(square))
            let angle = exponent * atan2(z.im, z.re)
            return (modulus * cos(angle), modulus * sin(angle))
        }
        // In place, one frequency pair (k, −k) at a time: both are read before either is written.
        // x and y are real, so X₋ₖ = conj Xₖ and (X₋ₖ)ᵗ = conj(Xₖᵗ), and likewise for Y.
        let hasY = y != nil
        re.withUnsafeMutableBufferPointer { re in
            im.withUnsafeMutableBufferPointer { im in
                for position in 0..<size {
                    let mirror = FFT.mirror(position)
                    guard position <= mirror else { continue }
                    let (a, b) = separate(re, im, at: position, mirror: mirror)
                    let px = power(a)
                    let py = hasY ? power(b) : (re: 0.0, im: 0.0)
                    // W = Xᵗ + i·Yᵗ, whose inverse is xᵗ + i·yᵗ since both are real.
                    re[position] = px.re - py.im
                    im[position] = px.im + py.re
                    if mirror != position {
                        re[mirror] = px.re + py.im
                        im[mirror] = py.re - px.im
                    }
                }
            }
        }
        fft.inverse(&re, &im)
        return (re, hasY ? im : nil)
    }

    /// The (index, value) pairs of the non-zero elements of `values`, or nil when there are
    /// `directLimit` or more.
    private static func nonZero(_ values: [Double]) -> [(offset: Int, weight: Double)]? {
        var terms: [(offset: Int, weight: Double)] = []
        for (offset, weight) in values.enumerated() where weight != 0 {
            guard terms.count + 1 < directLimit else { return nil }
            terms.append((offset, weight))
        }
        return terms
    }

    /// The linear convolution of a sequence with one of fewer than `directLimit` non-zero elements
    /// (the terms), by the direct sum, computed only where asked: element n is
    /// 0 + w₁·values[n − o₁] + w₂·values[n − o₂] + …, the terms that reach n added in ascending order of
    /// offset — the same operations in the same order as adding each shifted, weighted copy of `values`
    /// into zeros (how it was first written, and what the ledger's recorded ε were computed with), so
    /// the same bits, −0 included. `element(_:)` gives one element, `elements(_:)` a range in one
    /// writing pass: the ledger's composition convolves its whole loss distribution (hundreds of
    /// thousands of losses after a training run's spend) with each new pure-ε spend, under the ledger's
    /// lock, and keeps only what its tails' truncation leaves — computing just that, in one pass,
    /// instead of the whole product in one pass per term and then a copy of the kept part.
    struct Sparse {
        let terms: [(offset: Int, weight: Double)]
        let values: [Double]
        /// `values.count + (the sparse sequence's length) − 1`.
        let length: Int

        /// The convolution of `a` and `b` when one of them (`b` first) has fewer than `directLimit`
        /// non-zero elements; nil otherwise. Contract: both non-empty.
        init?(_ a: [Double], _ b: [Double]) {
            length = a.count + b.count - 1
            if let terms = RealConvolution.nonZero(b) {
                (self.terms, values) = (terms, a)
            } else if let terms = RealConvolution.nonZero(a) {
                (self.terms, values) = (terms, b)
            } else {
                return nil
            }
        }

        /// Element `n` (`0 ..< length`).
        func element(_ n: Int) -> Double {
            var sum = 0.0
            for (offset, weight) in terms where n >= offset && n - offset < values.count {
                sum += weight * values[n - offset]
            }
            return sum
        }

        /// Elements `range` (within `0 ..< length`), written once each: the range is cut where a term's
        /// run of `values` starts or ends, and each piece sums the terms that reach it, in order (one
        /// or two — a pure ε-DP release — in a loop the compiler vectorises; more, term by term).
        func elements(_ range: Range<Int>) -> [Double] {
            let count = values.count
            var cuts = Set([range.lowerBound, range.upperBound])
            for (offset, _) in terms {
                for cut in [offset, offset + count] where range.contains(cut) { cuts.insert(cut) }
            }
            let bounds = cuts.sorted()
            return [Double](unsafeUninitializedCapacity: range.count) { output, initialized in
                values.withUnsafeBufferPointer { input in
                    let source = input.baseAddress!
                    for (low, high) in zip(bounds, bounds.dropFirst()) {
                        let out = output.baseAddress! + (low - range.lowerBound), width = high - low
                        let reaching = terms.filter { $0.offset <= low && low < $0.offset + count }
                        switch reaching.count {
                        case 0:
                            out.initialize(repeating: 0, count: width)
                        case 1:
                            let (x, w) = (source + (low - reaching[0].offset), reaching[0].weight)
                            for i in 0..<width { (out + i).initialize(to: 0 + w * x[i]) }
                        case 2:
                            let (x0, w0) = (source + (low - reaching[0].offset), reaching[0].weight)
                            let (x1, w1) = (source + (low - reaching[1].offset), reaching[1].weight)
                            for i in 0..<width { (out + i).initialize(to: (0 + w0 * x0[i]) + w1 * x1[i]) }
                        default:
                            for i in 0..<width {
                                var sum = 0.0
                                for (offset, weight) in reaching { sum += weight * source[low + i - offset] }
                                (out + i).initialize(to: sum)
                            }
                        }
                    }
                }
                initialized = range.count
            }
        }
    }

    /// `a` in the real part and `b` in the imaginary part, zero-padded to `size`.
    private static func packed(_ a: [Double], _ b: [Double], size: Int) -> ([Double], [Double]) {
        var re = [Double](repeating: 0, count: size)
        var im = [Double](repeating: 0, count: size)
        re.replaceSubrange(0..<a.count, with: a)
        im.replaceSubrange(0..<b.count, with: b)
        return (re, im)
    }

    /// The spectra X (of the real part) and Y (of the imaginary part) at a bit-reversed `position` of
    /// the packed spectrum Z, whose frequency's negative is at `mirror` (`FFT.mirror(position)`).
    @inline(__always)
    private static func separate<Buffer: RandomAccessCollection<Double>>(
        _ re: Buffer, _ im: Buffer, at position: Int, mirror: Int
    ) -> (x: (re: Double, im: Double), y: (re: Double, im: Double)) where Buffer.Index == Int {
        let (zr, zi, mr, mi) = (re[position], im[position], re[mirror], im[mirror])
        return (((zr + mr) / 2, (zi - mi) / 2), ((zi + mi) / 2, (mr - zr) / 2))
    }
}
