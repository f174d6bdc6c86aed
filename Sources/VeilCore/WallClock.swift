import Foundation

/// Where a use case reads the time of day: record times, spend and review times, token times, the
/// "now" that future timestamps and label horizons are judged against. Every service that reads the
/// time takes one (`VeilContext` passes its own, `.system` by default); tests pass `.fixed(date)`.
/// Durations are measured with `ContinuousClock`, not with this.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) {
        self.read = read
    }

    /// The system's time.
    public static let system = WallClock { Date() }

    /// Always `date`.
    public static func fixed(_ date: Date) -> WallClock {
        WallClock { date }
    }

    public func now() -> Date { read() }

    /// `now()` in Unix milliseconds, rounded down.
    public func nowMillis() -> Int64 {
        Int64((read().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
