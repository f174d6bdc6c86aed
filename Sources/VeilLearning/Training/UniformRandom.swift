extension RandomNumberGenerator {
    /// A uniform draw from [0, 1): the top 53 bits of one 64-bit word, so every value is a multiple of 2⁻⁵³.
    ///
    /// Written out here (rather than `Double.random(in:using:)`) so that a seeded run depends only on the
    /// generator's words, not on the standard library's choice of algorithm.
    @inline(__always)
    mutating func unitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
