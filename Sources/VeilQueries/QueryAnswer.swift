import VeilCore
import VeilLedger

/// The answer to a query: noisy values per group with their noise and 95% intervals, the bounds and
/// sensitivity they were computed under, and what was spent. The JSON form is what `veil query --json`
/// prints and `POST /v1/queries` returns (snake_case keys; see `docs/queries.md`).
public struct QueryAnswer: Sendable, Codable, Equatable {
    /// The query as run (after defaults).
    public var query: QuerySpec
    /// `laplace` or `gaussian`.
    public var mechanism: String
    /// The ε and δ of this release alone (δ = 0 for pure ε).
    public var epsilon: Double
    public var delta: Double
    /// What the ledger was charged, and the dataset's budget after it.
    public var budget: BudgetReceipt
    public var bounding: Bounding
    /// One entry per noisy part (e.g. a mean has a sum and a count; grouping by category adds selection).
    public var sensitivity: [Sensitivity]
    public var partitionSelection: PartitionSelection?
    /// How to read `interval`.
    public var intervalMethod: String
    public var groups: [Group]

    /// The contribution bounds and clamping applied before noise.
    public struct Bounding: Sendable, Codable, Equatable {
        public var maxGroupsPerUser: Int
        public var maxContributionsPerGroup: Int
        /// Value bounds (value metrics only).
        public var lower: Double?
        public var upper: Double?

        enum CodingKeys: String, CodingKey {
            case lower, upper
            case maxGroupsPerUser = "max_groups_per_user"
            case maxContributionsPerGroup = "max_contributions_per_group"
        }
    }

    /// How much one user's whole history can move one noisy part, and the noise added to it.
    public struct Sensitivity: Sendable, Codable, Equatable {
        /// `count`, `users`, `sum`, `histogram` or `selection`.
        public var part: String
        /// L1 and L2 sensitivity of the part's vector over all groups, in answer units (e.g. currency for revenue).
        public var l1: Double
        public var l2: Double
        /// `discrete_laplace` (scale b) or `discrete_gaussian` (σ), in answer units.
        public var noise: String
        public var noiseScale: Double

        enum CodingKeys: String, CodingKey {
            case part, l1, l2, noise
            case noiseScale = "noise_scale"
        }
    }

    /// DP partition selection of group keys found in the data.
    public struct PartitionSelection: Sendable, Codable, Equatable {
        public var method: String
        /// A key is released when its noisy distinct-user count is at least this.
        public var threshold: Int64
        /// The chance that a key held by one user alone is released (part of `delta`).
        public var delta: Double
    }

    /// One released group.
    public struct Group: Sendable, Codable, Equatable {
        public var key: String
        /// `public` (released whatever the data) or `selected` (passed partition selection).
        public var source: String
        /// The metric's value (all metrics but histogram).
        public var estimate: Estimate?
        /// A mean's noisy sum and count.
        public var sum: Estimate?
        public var count: Estimate?
        /// A histogram's (or a quantile's underlying) noisy bin counts.
        public var bins: [Bin]?
    }

    /// One noisy number.
    public struct Estimate: Sendable, Codable, Equatable {
        /// nil when it cannot be formed (a mean or quantile over a non-positive noisy count).
        public var value: Double?
        /// Standard deviation of the noise in `value` (nil when there is no value).
        public var noiseSD: Double?
        /// The 95% interval.
        public var low: Double
        public var high: Double

        enum CodingKeys: String, CodingKey {
            case value, low, high
            case noiseSD = "noise_sd"
        }
    }

    /// One histogram bin [lower, upper) (the last bin is closed).
    public struct Bin: Sendable, Codable, Equatable {
        public var lower: Double
        public var upper: Double
        public var estimate: Estimate
    }

    enum CodingKeys: String, CodingKey {
        case query, mechanism, epsilon, delta, budget, bounding, sensitivity, groups
        case partitionSelection = "partition_selection"
        case intervalMethod = "interval_method"
    }
}
