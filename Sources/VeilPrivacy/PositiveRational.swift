/// A positive rational number `numerator / denominator` with both terms in 1 … 2⁴⁰: the exact
/// parameter of the discrete samplers (a discrete Laplace scale, a discrete Gaussian σ²).
///
/// The 2⁴⁰ bound keeps every intermediate of the samplers inside 128-bit integers (see
/// `Noise.discreteGaussian`), so sampling needs no floating point at all.
public struct PositiveRational: Sendable, Hashable, CustomStringConvertible {
    /// The largest numerator or denominator allowed.
    public static let maximumTerm: UInt64 = 1 << 40

    public let numerator: UInt64
    public let denominator: UInt64

    /// `numerator / denominator`, reduced. Contract: both in 1 … 2⁴⁰ (checked with a precondition:
    /// a bad noise parameter is a programming error, not user input).
    public init(_ numerator: UInt64, _ denominator: UInt64 = 1) {
        precondition((1...Self.maximumTerm).contains(numerator), "numerator must be in 1...2^40")
        precondition((1...Self.maximumTerm).contains(denominator), "denominator must be in 1...2^40")
        let divisor = Self.gcd(numerator, denominator)
        self.numerator = numerator / divisor
        self.denominator = denominator / divisor
    }

    /// The smallest multiple of 2^−`denominatorBits` that is ≥ `value`, or nil when `value` is not a
    /// finite number > 0 or the result would break the 2⁴⁰ bound.
    ///
    /// Rounding *up* is deliberate: noise parameters come from public configuration (never from
    /// data), and a larger scale or σ² only adds noise, so the privacy guarantee computed for
    /// `value` still holds for the rational actually used. `value · 2^bits` is exact in binary
    /// floating point, so the rounding itself is exact.
    public init?(roundingUp value: Double, denominatorBits: Int = 20) {
        precondition((0...40).contains(denominatorBits), "denominatorBits must be in 0...40")
        guard value.isFinite, value > 0 else { return nil }
        let scaled = (value * Double(UInt64(1) << denominatorBits)).rounded(.up)
        guard scaled <= Double(Self.maximumTerm) else { return nil }
        self.init(UInt64(scaled), UInt64(1) << denominatorBits)
    }

    /// The nearest `Double` (for display and for the accountant; sampling never uses it).
    public var doubleValue: Double { Double(numerator) / Double(denominator) }

    public var description: String { "\(numerator)/\(denominator)" }

    private static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
