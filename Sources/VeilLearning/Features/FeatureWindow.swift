import VeilCore

/// The time frame of one training or scoring run: features come from `[observationStart, cutoff)`,
/// labels from `[cutoff, horizonEnd)`. Times are Unix milliseconds (UTC).
public struct FeatureWindow: Sendable, Hashable, Codable {
    /// Start of the observation window; `nil` means everything before the cutoff.
    public var observationStart: Int64?
    public var cutoff: Int64
    /// End of the label horizon (exclusive).
    public var horizonEnd: Int64

    public init(observationStart: Int64?, cutoff: Int64, horizonEnd: Int64) {
        precondition(horizonEnd >= cutoff, "the horizon ends after the cutoff")
        self.observationStart = observationStart
        self.cutoff = cutoff
        self.horizonEnd = horizonEnd
    }

    public static let millisPerDay: Int64 = 86_400_000

    enum CodingKeys: String, CodingKey {
        case cutoff
        case observationStart = "observation_start_ms"
        case horizonEnd = "horizon_end_ms"
    }
}

/// What actually happened in the horizon for one user.
public struct Outcome: Sendable, Hashable {
    public var purchased: Bool
    public var churned: Bool
    /// Index into the policy's categories of the first purchase in the horizon, if any and listed.
    public var nextCategory: Int?
    /// The item of the first event with an item in the horizon (earliest time, then event ID), if any.
    public var nextItem: String? = nil

    /// The label for `task` (its labeller): 0/1 for binary tasks, the class index for `next_category`;
    /// nil when the task has no label for this user (no listed purchase in the horizon).
    public func label(for task: PredictionTask) -> Int? { task.definition.label(self) }
}

/// One user's example: the pseudonym, the scaled features and the outcome.
public struct UserExample: Sendable, Hashable {
    public var pseudonym: Pseudonym
    /// Every value in [0, 1], in `FeatureSchema.names` order.
    public var features: [Double]
    public var outcome: Outcome
}
