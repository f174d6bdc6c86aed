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
        if let terms = nonZero(b) { return direct(terms, a, length: length) }
        if let terms = nonZero(a) { return direct(terms, b, length: length) }
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

    /// Σ weight · `values` shifted by offset, over `terms` (offsets ascending, each at most
    /// `length − values.count`): element n is 0 + w₁·values[n − o₁] + w₂·values[n − o₂] + …, the terms
    /// that reach n added in `terms`' order — the same operations, in the same order, as adding each
    /// shifted term into zeros, so the same bits (−0 included: the first term's pass adds it to 0).
    /// One pass per term over raw memory, with no zero-fill of what the first term writes: the ledger's
    /// composition convolves its whole loss distribution with each new pure-ε spend this way, under
    /// the ledger's lock, and the checked, index-by-index loop ran a scalar multiply and add per element.
    private static func direct(_ terms: [(offset: Int, weight: Double)], _ values: [Double], length: Int) -> [Double] {
        [Double](unsafeUninitializedCapacity: length) { output, initialized in
            values.withUnsafeBufferPointer { input in
                let result = output.baseAddress!, count = input.count
                guard let first = terms.first, let source = input.baseAddress else {
                    result.initialize(repeating: 0, count: length)
                    return
                }
                precondition(terms.allSatisfy { $0.offset >= 0 && $0.offset &+ count <= length }, "a term outside the result")
                result.initialize(repeating: 0, count: first.offset)
                let firstRun = result + first.offset
                (firstRun + count).initialize(repeating: 0, count: length &- first.offset &- count)
                for index in 0..<count { (firstRun + index).initialize(to: 0 + first.weight * source[index]) }
                for term in terms.dropFirst() {
                    let run = result + term.offset
                    for index in 0..<count { run[index] += term.weight * source[index] }
                }
            }
            initialized = length
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
