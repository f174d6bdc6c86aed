import Foundation
import VeilCore
import VeilCrypto
import VeilLedger
import VeilPrivacy
import VeilStore

/// The aggregate-query use case: validate, pay, audit, read, bound, add noise, answer.
///
/// Contract:
/// - The query is checked against the policy first (`VeilError(.invalidInput, field:)` naming the
///   rule), so a bad query spends nothing.
/// - Its whole cost — every noisy part and any partition selection, composed into one
///   `PrivacyMechanism` — is reserved in the ledger before a single event is read; a refusal
///   (`.budgetExceeded`) reads nothing. A reserved query is never refunded.
/// - A `query.run` audit record (metric, value, group-by, filters, ε, δ, mechanism, sensitivity,
///   spend) is written before the data is read; it never holds counts or answers.
/// - The store reads only the days and types the query asks for, on the store's threads: a query
///   never blocks a cooperative thread on its scan.
/// - Each user's contributions are bounded (see `ContributionBounder`), values clamped to public
///   bounds, and integer answers released with discrete Laplace or discrete Gaussian noise.
/// - `explain` states the same plan's noise, intervals and biases without spending or reading.
public final class QueryService: Sendable {
    private let policy: Policy
    private let events: any EventScanning
    private let budget: BudgetService
    private let audit: any AuditRecording
    /// Whether counts are read as the store's counts per (pseudonym, group) (`QueryEngine`).
    private let pushDown: Bool

    /// Queries over the events of `events`, paid from `budget`, recorded in `audit`. `pushDown: false`
    /// reads events for every query (benchmarks compare the two paths; the answers are the same).
    public convenience init(
        policy: Policy, events: any EventStore, budget: BudgetService, audit: any AuditRecording, pushDown: Bool = true
    ) {
        self.init(policy: policy, scanning: StoredEventScan(store: events), budget: budget, audit: audit, pushDown: pushDown)
    }

    /// Queries over any event source (tests and benchmarks hand it events in memory).
    package init(
        policy: Policy, scanning events: any EventScanning, budget: BudgetService, audit: any AuditRecording, pushDown: Bool = true
    ) {
        self.policy = policy
        self.events = events
        self.budget = budget
        self.audit = audit
        self.pushDown = pushDown
    }

    /// Runs `query` for `principal` acting as `role`, with noise from a fresh CSPRNG-keyed generator.
    public func run(_ query: QuerySpec, principal: String, role: Role) async throws -> QueryAnswer {
        var generator = ChaChaNoiseGenerator()
        return try await run(query, principal: principal, role: role, using: &generator)
    }

    /// Runs `query` with noise (and sampling keys) from `generator`: a seeded one in tests only.
    public func run(
        _ query: QuerySpec, principal: String, role: Role, using generator: inout some RandomNumberGenerator
    ) async throws -> QueryAnswer {
        let plan = try QueryPlan(query, policy: policy)
        let receipt = try await budget.reserve(
            BudgetRequest(principal: principal, role: role, purpose: Self.purpose(plan), mechanism: plan.mechanism))
        try await audit.record(actor: principal, action: .queryRun, details: Self.auditDetails(plan, receipt: receipt))
        let aggregate = try await QueryEngine.aggregate(plan, events: events, key: (generator.next(), generator.next()), pushDown: pushDown)
        return QueryRelease.answer(plan: plan, aggregate: aggregate, receipt: receipt, using: &generator)
    }

    /// What the ledger would charge for `query` (all its noisy parts and any partition selection,
    /// composed), from the query and the policy alone: reads nothing, reserves nothing.
    ///
    /// - Throws: `VeilError(.invalidInput, field:)` for every rule `run` checks before it spends.
    public func mechanism(_ query: QuerySpec) throws(VeilError) -> PrivacyMechanism {
        try QueryPlan(query, policy: policy).mechanism
    }

    /// Runs `query` as one part of a spend its caller has already reserved (`receipt`, whose mechanism
    /// composes `mechanism(query)` with the caller's other releases) and records in its own audit
    /// record: a training run's DP item selection. Reserves nothing and writes no `query.run` record;
    /// the answer names the caller's spend. Package-only, so no caller outside Veil reads unpaid.
    package func runPrepaid(
        _ query: QuerySpec, receipt: BudgetReceipt, using generator: inout some RandomNumberGenerator
    ) async throws -> QueryAnswer {
        let plan = try QueryPlan(query, policy: policy)
        let aggregate = try await QueryEngine.aggregate(plan, events: events, key: (generator.next(), generator.next()), pushDown: pushDown)
        return QueryRelease.answer(plan: plan, aggregate: aggregate, receipt: receipt, using: &generator)
    }

    /// What running `query` would release and cost, and where its bounds can bias it, from the query
    /// and the policy alone: reads no event, reserves nothing, writes no audit record.
    ///
    /// - Throws: `VeilError(.invalidInput, field:)` for every rule `run` checks before it spends.
    public func explain(_ query: QuerySpec) throws(VeilError) -> QueryExplanation {
        QueryExplanation(plan: try QueryPlan(query, policy: policy), policy: policy)
    }

    static func purpose(_ plan: QueryPlan) -> String {
        var text = "query \(plan.metric.rawValue)"
        if let value = plan.value { text += " of \(value.rawValue)" }
        if let groupBy = plan.groupBy { text += " by \(groupBy.rawValue)" }
        return text
    }

    static func auditDetails(_ plan: QueryPlan, receipt: BudgetReceipt) -> [String: JSONValue] {
        var details: [String: JSONValue] = [
            "metric": .string(plan.metric.rawValue),
            "epsilon": .double(plan.epsilon),
            "delta": .double(plan.delta),
            "mechanism": .string(plan.noise.rawValue),
            "ledger_mechanism": BudgetService.json(plan.mechanism),
            "spend_id": .int(receipt.spendID),
            "max_groups_per_user": .int(Int64(plan.maxGroups)),
            "max_contributions_per_group": .int(Int64(plan.maxContributions)),
            "sensitivity": .array(
                plan.parts.map { part in
                    .object(["part": .string(part.kind.rawValue), "l1": .double(part.l1), "l2": .double(part.l2), "unit": .int(part.unit)])
                }),
        ]
        if let value = plan.value {
            details["value"] = .string(value.rawValue)
            details["lower"] = .double(plan.lower)
            details["upper"] = .double(plan.upper)
        }
        if let groupBy = plan.groupBy { details["group_by"] = .string(groupBy.rawValue) }
        if !plan.spec.filter.isEmpty { details["where"] = .string(plan.spec.filter.text) }
        if let from = plan.spec.from { details["from"] = .string(from) }
        if let to = plan.spec.to { details["to"] = .string(to) }
        if let q = plan.quantile { details["quantile"] = .double(q) }
        if !plan.binEdges.isEmpty { details["bins"] = .int(Int64(plan.binEdges.count - 1)) }
        if let threshold = plan.selectionThreshold { details["selection_threshold"] = .int(threshold) }
        return details
    }
}
