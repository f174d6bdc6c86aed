import CSodium

/// Runs `sodium_init()` exactly once, before the first use of libsodium.
///
/// A global `let` is initialised lazily and thread-safely by Swift, so every entry point calls
/// `Sodium.ready()` and the first caller pays for initialisation.
enum Sodium {
    private static let initialised: Bool = sodium_init() >= 0

    /// Initialises libsodium if needed; traps if the library cannot start (no entropy source),
    /// because no cryptographic operation could then be trusted.
    static func ready() {
        precondition(initialised, "libsodium failed to initialise (sodium_init < 0)")
    }
}

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// True when both byte strings have the same length and content. Lengths are compared first
    /// (length is not secret); content with `sodium_memcmp`.
    public static func equals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        Sodium.ready()
        guard lhs.count == rhs.count else { return false }
        if lhs.isEmpty { return true }
        return lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in
                sodium_memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0
            }
        }
    }
}
