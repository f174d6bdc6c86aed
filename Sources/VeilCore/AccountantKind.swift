/// The privacy accountant that composes releases into one (ε, δ) and calibrates noise: the policy's
/// `privacy.accountant`, `veil privacy --accountant`. `VeilPrivacy` implements both.
public enum AccountantKind: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Privacy loss distributions, composed by FFT and discretised pessimistically: the tight one.
    case pld
    /// Rényi differential privacy, converted to (ε, δ): looser, matched to dp_accounting to rounding.
    case rdp

    public var description: String { rawValue }
}
