import Foundation
import Testing
@testable import VeilPrivacy

/// The transform and the convolutions the PLD accountant composes with, against direct sums.
struct FFTTests {
    /// Frequency k's position in bit-reversed order for a transform of `size`.
    static func bitReversed(_ k: Int, size: Int) -> Int {
        var (position, rest) = (0, k)
        for _ in 0..<size.trailingZeroBitCount {
            position = (position << 1) | (rest & 1)
            rest >>= 1
        }
        return position
    }

    /// A reproducible sequence in [−1, 1].
    static func sequence(_ count: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
    }

    @Test(arguments: [2, 4, 8, 64, 512, 1 << 14, 1 << 15])
    func forwardIsTheDFTInBitReversedOrder(size: Int) {
        let (inputRe, inputIm) = (Self.sequence(size, seed: 1), Self.sequence(size, seed: 2))
        var (re, im) = (inputRe, inputIm)
        FFT(size: size).forward(&re, &im)
        // Check a spread of frequencies against the direct sum (the angle reduced exactly mod size).
        for k in Set([0, 1, 2, size / 2, size - 1, size / 3, (size * 2) / 3]) where k < size {
            var (sumRe, sumIm) = (0.0, 0.0)
            for n in 0..<size {
                let angle = -2 * Double.pi * Double((k * n) % size) / Double(size)
                sumRe += inputRe[n] * cos(angle) - inputIm[n] * sin(angle)
                sumIm += inputRe[n] * sin(angle) + inputIm[n] * cos(angle)
            }
            let position = Self.bitReversed(k, size: size)
            let scale = Double(size).squareRoot()
            #expect(abs(re[position] - sumRe) <= 1e-12 * scale, "size \(size) k \(k)")
            #expect(abs(im[position] - sumIm) <= 1e-12 * scale, "size \(size) k \(k)")
        }
    }

    /// A zero-padded input whose first stages are skipped (`nonZeroCount`) gives the full transform:
    /// counts from 1 point to just over a quarter of the length, across the cache-block boundary.
    @Test(arguments: [(8, 1), (64, 3), (1024, 129), (1 << 15, 5_000), (1 << 17, 1 << 13), (1 << 17, 40_000)])
    func zeroPaddedForwardIsTheFullTransform(size: Int, count: Int) {
        var (re, im) = (Self.sequence(count, seed: 7), Self.sequence(count, seed: 8))
        re += [Double](repeating: 0, count: size - count)
        im += [Double](repeating: 0, count: size - count)
        let fft = FFT(size: size)
        var (fullRe, fullIm) = (re, im)
        fft.forward(&fullRe, &fullIm)
        fft.forward(&re, &im, nonZeroCount: count)
        let scale = Double(count).squareRoot()
        let error = zip(re, fullRe).map { abs($0 - $1) }.max()! + zip(im, fullIm).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-13 * scale, "size \(size) count \(count)")
    }

    @Test(arguments: [2, 8, 1 << 13, 1 << 14, 1 << 17])
    func inverseUndoesForward(size: Int) {
        let (inputRe, inputIm) = (Self.sequence(size, seed: 3), Self.sequence(size, seed: 4))
        var (re, im) = (inputRe, inputIm)
        let fft = FFT(size: size)
        fft.forward(&re, &im)
        fft.inverse(&re, &im)
        let error = zip(re, inputRe).map { abs($0 - $1) }.max()! + zip(im, inputIm).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-13)
    }

    @Test(arguments: [2, 16, 1024])
    func mirrorHoldsTheNegativeFrequency(size: Int) {
        for k in 0..<size {
            #expect(FFT.mirror(Self.bitReversed(k, size: size)) == Self.bitReversed((size - k) % size, size: size))
        }
    }

    /// Both paths — the transform and, for a short sequence, the direct sum — against a plain sum.
    @Test(arguments: [77, 5])
    func linearConvolutionMatchesTheDirectSum(shorter: Int) {
        let a = Self.sequence(300, seed: 5)
        let b = Self.sequence(shorter, seed: 6)
        let fast = RealConvolution.convolve(a, b)
        #expect(fast.count == a.count + b.count - 1)
        for n in fast.indices {
            var sum = 0.0
            for i in max(0, n - b.count + 1)...min(n, a.count - 1) { sum += a[i] * b[n - i] }
            #expect(abs(fast[n] - sum) <= 1e-12)
        }
    }

    /// The direct path (a sequence with fewer than `directLimit` non-zero elements) gives the bits of
    /// adding each shifted, weighted term into zeros in order — how it was first written, and what the
    /// ledger's recorded ε were computed with — for 1 to 31 terms, an all-zero sequence, runs that
    /// overlap and runs that do not, negative values and −0 among them, and either argument the sparse
    /// one.
    @Test(arguments: [0, 1, 2, 3, 31], [5_000, 2])
    func theDirectSumGivesTheBitsOfAddingEachTermIntoZeros(terms: Int, length: Int) throws {
        var values = Self.sequence(length, seed: UInt64(terms) + 11)
        values[1] = -0.0
        if length > 8 { values[8] = 0 }
        var sparse = [Double](repeating: 0, count: 64)
        let weights = Self.sequence(terms, seed: UInt64(terms) + 12)
        for (index, weight) in weights.enumerated() { sparse[index * 2 + (index % 2)] = weight == 0 ? 0.5 : weight }
        if terms > 1 { sparse[0] = -0.25 }
        var expected = [Double](repeating: 0, count: values.count + sparse.count - 1)
        for (offset, weight) in sparse.enumerated() where weight != 0 {
            for (index, value) in values.enumerated() { expected[index + offset] += weight * value }
        }
        for result in [RealConvolution.convolve(values, sparse), RealConvolution.convolve(sparse, values)] {
            try #require(result.count == expected.count)
            let differing = result.indices.first { result[$0].bitPattern != expected[$0].bitPattern }
            #expect(differing == nil, "\(terms) terms, \(length) values: element \(differing ?? -1) differs")
        }
    }

    /// A sparse convolution computed only in part — any range, or one element — gives the bits of the
    /// whole one there: ranges that start and end inside, before and after the terms' runs.
    @Test func aPartOfTheDirectSumIsThoseElementsOfTheWhole() throws {
        let values = Self.sequence(700, seed: 21)
        var sparse = [Double](repeating: 0, count: 40)
        (sparse[3], sparse[4], sparse[39]) = (0.25, -0.5, 0.125)
        for pair in [(sparse, "three terms"), ([0, 0, 0.7, 0, 0.3], "two terms")] {
            let convolution = try #require(RealConvolution.Sparse(values, pair.0))
            let whole = convolution.elements(0..<convolution.length)
            #expect(whole.count == values.count + pair.0.count - 1)
            for range in [0..<0, 0..<1, 2..<5, 3..<40, 39..<700, 100..<200, 650..<whole.count, 0..<whole.count] {
                let part = convolution.elements(range)
                #expect(part.map(\.bitPattern) == whole[range].map(\.bitPattern), "\(pair.1): \(range)")
            }
            let differing = whole.indices.first { convolution.element($0).bitPattern != whole[$0].bitPattern }
            #expect(differing == nil, "\(pair.1): element \(differing ?? -1)")
        }
    }

    @Test func selfConvolutionMatchesRepeatedConvolution() {
        // Two probability vectors, raised to the 7th convolution power together and apart.
        let x = [0.2, 0.5, 0.3]
        let y = [0.6, 0.1, 0.1, 0.2]
        var directX = [1.0], directY = [1.0]
        for _ in 0..<7 {
            directX = RealConvolution.convolve(directX, x)
            directY = RealConvolution.convolve(directY, y)
        }
        let (powerX, powerY) = RealConvolution.selfConvolve(x, y, times: 7, size: 32)
        let (aloneX, _) = RealConvolution.selfConvolve(x, nil, times: 7, size: 32)
        for n in directX.indices {
            #expect(abs(powerX[n] - directX[n]) <= 1e-14)
            #expect(abs(aloneX[n] - directX[n]) <= 1e-14)
        }
        for n in directY.indices { #expect(abs(powerY![n] - directY[n]) <= 1e-14) }
        // Beyond the true support the circular result is 0.
        #expect(powerX[directX.count...].allSatisfy { abs($0) <= 1e-15 })
    }
}
