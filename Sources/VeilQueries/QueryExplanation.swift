import Foundation
import VeilCore

/// What a query would release and how precise it would be, worked out from the query and the policy
/// alone — no event is read, nothing is spent and nothing is audited (utility analysis before spending,
/// as PipelineDP's and Tumult Analytics' are). The JSON form is what `veil query --explain --json`
/// prints and `POST /v1/queries/explain` returns (snake_case keys; see `docs/queries.md`).
///
/// Contract: every number here is the one a run of the same query under the same policy would state —
/// the ledger charge is the receipt's ε, each release's noise sd and interval half-width are the
/// answer's `noise_sd` and `high − value` — because both come from one `QueryPlan`.
public struct QueryExplanation: Sendable, Codable, Equatable {
    /// The query as it would run (after defaults).
    public var query: QuerySpec
    /// `laplace` or `gaussian`.
    public var mechanism: String
    /// The ε and δ of the release alone (δ = 0 for pure ε).
    public var epsilon: Double
    public var delta: Double
    /// What the ledger would charge: ε of the release at the policy's δ under `accountant`.
    public var ledgerEpsilon: Double
    /// The policy's accountant (`pld` or `rdp`).
    public var accountant: String
    /// Always 0: explaining spends nothing.
    public var spentEpsilon: Double
    public var bounding: QueryAnswer.Bounding
    public var sensitivity: [QueryAnswer.Sensitivity]
    public var partitionSelection: QueryAnswer.PartitionSelection?
    /// How to read the intervals of the answer.
    public var intervalMethod: String
    /// One entry per noisy part, in the order of `sensitivity`.
    public var releases: [Release]
    /// Where the contribution bounds or the clamp can bias the answer, or the noise swamp it.
    public var warnings: [Warning]

    /// The accuracy of one noisy part.
    public struct Release: Sendable, Codable, Equatable {
        /// `count`, `users`, `sum`, `histogram` or `selection`.
        public var part: String
        /// What each noisy number of the part is.
        public var releases: String
        /// How many noisy numbers the part releases over the public keys (groups × bins); nil for
        /// partition selection, whose keys come from the data.
        public var count: Int?
        /// Standard deviation of the noise in each number, in answer units.
        public var noiseSD: Double
        /// Half-width of each number's 95% noise interval, in answer units.
        public var halfWidth95: Double
        /// Whether the half-width is exact (summed probability mass) rather than the normal 1.96·sd.
        public var exact: Bool

        enum CodingKeys: String, CodingKey {
            case part, releases, count, exact
            case noiseSD = "noise_sd"
            case halfWidth95 = "half_width_95"
        }
    }

    /// One way the answer can mislead, named by the rule or option that causes it.
    public struct Warning: Sendable, Codable, Equatable {
        /// `group_limit`, `contribution_limit`, `clamp`, `bins_outside_bounds`, `noisy_mean` or
        /// `partition_selection`.
        public var code: String
        /// The policy key or query field to change.
        public var field: String
        public var message: String
    }

    enum CodingKeys: String, CodingKey {
        case query, mechanism, epsilon, delta, accountant, bounding, sensitivity, releases, warnings
        case ledgerEpsilon = "ledger_epsilon"
        case spentEpsilon = "spent_epsilon"
        case partitionSelection = "partition_selection"
        case intervalMethod = "interval_method"
    }
}

extension QueryExplanation {
    /// The explanation of `plan`, checked against `policy` (its accountant and value bounds).
    init(plan: QueryPlan, policy: Policy) {
        let spreads = plan.parts.map { QueryRelease.spread($0, noise: plan.noise) }
        let bins = max(1, plan.binEdges.count - 1)
        let releases = zip(plan.parts, spreads).map { part, spread in
            let unit = plan.answerUnit(part)
            let rounding = part.unit > 1 ? unit / 2 : 0
            return Release(
                part: part.kind.rawValue, releases: Self.describe(part.kind, plan: plan),
                count: part.kind == .selection ? nil : plan.publicKeys.count * (part.kind == .histogram ? bins : 1),
                noiseSD: spread.sd * unit, halfWidth95: spread.halfWidth * unit + rounding, exact: spread.exact)
        }
        self.init(
            query: plan.spec, mechanism: plan.noise.rawValue, epsilon: plan.epsilon, delta: plan.delta,
            ledgerEpsilon: plan.ledgerEpsilon, accountant: policy.privacy.accountant.rawValue, spentEpsilon: 0,
            bounding: QueryRelease.bounding(plan), sensitivity: QueryRelease.sensitivity(plan),
            partitionSelection: QueryRelease.partitionSelection(plan),
            intervalMethod: QueryRelease.intervalMethod(plan, spreads: spreads), releases: releases,
            warnings: Self.warnings(plan, policy: policy, releases: releases))
    }

    private static func describe(_ kind: NoisePart.Kind, plan: QueryPlan) -> String {
        let contributions = plan.value?.isOrderLevel == true ? "orders" : "events"
        switch kind {
        case .count: return plan.metric == .mean ? "the bounded count of \(contributions) per group (a mean's divisor)" : "the bounded count of events per group"
        case .users: return "the number of distinct users per group"
        case .sum: return "the bounded, clamped sum of \(plan.value?.rawValue ?? "values") per group"
        case .histogram: return "the bounded count of \(contributions) per bin per group"
        case .selection: return "the bounded distinct-user count of each key found in the data (compared with the threshold, never released)"
        }
    }

    /// The biases and noise a user of the answer should know of, from public parameters only.
    static func warnings(_ plan: QueryPlan, policy: Policy, releases: [Release]) -> [Warning] {
        var warnings: [Warning] = []
        let groups = plan.maxGroups
        let contributions = plan.value?.isOrderLevel == true ? "orders" : "events"
        if plan.selectsPartitions || plan.publicKeys.count > groups {
            let reach =
                plan.selectsPartitions
                ? "the \(plan.publicKeys.count) policy categories and any found in the data"
                : "\(plan.publicKeys.count) groups"
            warnings.append(
                Warning(
                    code: "group_limit", field: "queries.max_groups_per_user",
                    message:
                        "a user can reach \(reach) but contributes to at most \(groups) (a uniform sample): a user active in more groups is left out of the others, so group values are biased downwards, most where active users concentrate"
                ))
        }
        if plan.metric != .countUsers {
            warnings.append(
                Warning(
                    code: "contribution_limit", field: "queries.max_contributions_per_group",
                    message:
                        "a user's \(contributions) beyond \(plan.maxContributions) in one group are left out (a uniform sample): counts and sums are biased downwards where users have more"
                ))
        }
        if let value = plan.value {
            let bounds = policy.queries.valueBounds[value.rawValue]
            let range = "[\(QueryExplanation.format(plan.lower)), \(QueryExplanation.format(plan.upper))]"
            if let bounds, plan.lower > bounds.lower || plan.upper < bounds.upper {
                warnings.append(
                    Warning(
                        code: "clamp", field: plan.lower > bounds.lower ? "lower" : "upper",
                        message:
                            "the clamp \(range) cuts values the policy's queries.value_bounds.\(value.rawValue) allows ([\(QueryExplanation.format(bounds.lower)), \(QueryExplanation.format(bounds.upper))]): \(value.rawValue) outside it is moved to the nearer bound, biasing sums, means and quantiles"
                    ))
            } else {
                warnings.append(
                    Warning(
                        code: "clamp", field: "upper",
                        message:
                            "each \(value.rawValue) is clamped to \(range): values outside it are moved to the nearer bound, biasing sums, means and quantiles if they occur"
                    ))
            }
            if let first = plan.binEdges.first, let last = plan.binEdges.last, first > plan.lower || last < plan.upper {
                warnings.append(
                    Warning(
                        code: "bins_outside_bounds", field: "bins",
                        message:
                            "the bins cover [\(QueryExplanation.format(first)), \(QueryExplanation.format(last))] but values range over \(range): values below the first edge are counted in the first bin and values above the last in the last\(plan.metric == .quantile ? ", so a quantile outside the bins reads as an end bin" : "")"
                    ))
            }
        }
        if plan.metric == .mean, let count = releases.first(where: { $0.part == NoisePart.Kind.count.rawValue }) {
            let reliable = (5 * count.noiseSD).rounded(.up)
            warnings.append(
                Warning(
                    code: "noisy_mean", field: "epsilon",
                    message:
                        "a group's mean divides by a count with noise sd \(QueryExplanation.format(count.noiseSD)): with fewer than about \(QueryExplanation.format(reliable)) bounded \(contributions) in a group (count noise above 20%) neither its value nor its interval should be trusted"
                ))
        }
        if let threshold = plan.selectionThreshold {
            warnings.append(
                Warning(
                    code: "partition_selection", field: "where.category",
                    message:
                        "categories outside the policy list appear only when their noisy user count reaches \(threshold): one with fewer users is almost never shown; name categories in where to make them public keys"
                ))
        }
        return warnings
    }

    /// Numbers in messages: integers without a fraction, others to four significant digits.
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }
}
