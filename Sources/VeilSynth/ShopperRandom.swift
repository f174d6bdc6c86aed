import Foundation
import VeilCrypto

/// The generator behind synthetic data: xoshiro256** with one independent stream per (user, purpose).
///
/// The 256-bit root key comes from `ChaChaNoiseGenerator(seed:)`, so everything is a pure function of the
/// seed. Stream `(user, purpose)` is seeded by SplitMix64 over the root key, the user index and the
/// purpose, so a user's traits and events do not depend on how many other users are generated, and users
/// can be generated in parallel. Not cryptographic: synthetic data only.
struct ShopperRandom: RandomNumberGenerator {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Four words of the ChaCha20 stream for `seed`: the root key of every per-user stream.
    static func rootKey(seed: UInt64) -> [UInt64] {
        var chacha = ChaChaNoiseGenerator(seed: seed)
        return (0..<4).map { _ in chacha.next() }
    }

    init(rootKey: [UInt64], user: UInt64, purpose: UInt64) {
        var mix = SplitMix64(state: rootKey[0] ^ (user &* 0x9E37_79B9_7F4A_7C15) ^ (purpose &* 0xD1B5_4A32_D192_ED03))
        s0 = mix.next() ^ rootKey[1]
        s1 = mix.next() ^ rootKey[2]
        s2 = mix.next() ^ rootKey[3]
        s3 = mix.next()
        if s0 | s1 | s2 | s3 == 0 { s3 = 1 }
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform on the open interval (0, 1).
    @inline(__always)
    mutating func uniform() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1.0p-53
    }

    /// True with probability `p`.
    @inline(__always)
    mutating func chance(_ p: Double) -> Bool { uniform() < p }

    /// Exponential with mean 1.
    @inline(__always)
    mutating func exponential() -> Double { -Foundation.log(uniform()) }

    /// Standard normal (Box–Muller; one value per call).
    mutating func normal() -> Double {
        let radius = (-2 * Foundation.log(uniform())).squareRoot()
        return radius * Foundation.cos(2 * Double.pi * uniform())
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift; bias below 2^-32 for small bounds).
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// Gamma(shape, 1) by Marsaglia–Tsang, with the U^(1/shape) boost for shape < 1.
    mutating func gamma(shape: Double) -> Double {
        if shape < 1 {
            return gamma(shape: shape + 1) * Foundation.pow(uniform(), 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): used only to expand a seed into xoshiro state.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
