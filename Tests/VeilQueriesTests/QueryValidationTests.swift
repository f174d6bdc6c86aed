import Foundation
import Testing
import VeilCore
import VeilPrivacy
@testable import VeilQueries

@Suite struct QueryValidationTests {
    private static func field(of spec: QuerySpec, policy: Policy = ShopData.policy()) -> String? {
        do {
            _ = try QueryPlan(spec, policy: policy)
            return nil
        } catch {
            #expect(error.code == .invalidInput)
            return error.field
        }
    }

    @Test(arguments: [
        (QuerySpec(metric: "median", epsilon: 1), "metric"),
        (QuerySpec(metric: "count_events", value: "revenue", epsilon: 1), "value"),
        (QuerySpec(metric: "sum", epsilon: 1), "value"),
        (QuerySpec(metric: "sum", value: "profit", epsilon: 1), "value"),
        (QuerySpec(metric: "count_events", groupBy: "month", epsilon: 1), "group_by"),
        (QuerySpec(metric: "sum", value: "revenue", groupBy: "type", epsilon: 1), "group_by"),
        (QuerySpec(metric: "mean", value: "order_value", groupBy: "category", epsilon: 1), "group_by"),
        (QuerySpec(metric: "count_events", groupBy: "day", epsilon: 1), "group_by"),
        (QuerySpec(metric: "count_events", epsilon: 4.5), "epsilon"),
        (QuerySpec(metric: "count_events", epsilon: 0), "epsilon"),
        (QuerySpec(metric: "count_events", epsilon: 1, mechanism: "exponential"), "mechanism"),
        (QuerySpec(metric: "count_events", filter: QueryFilter(types: ["buy"]), epsilon: 1), "where.type"),
        (QuerySpec(metric: "sum", value: "revenue", filter: QueryFilter(types: ["view"]), epsilon: 1), "where.type"),
        (QuerySpec(metric: "count_events", from: "2026-13-01", epsilon: 1), "from"),
        (QuerySpec(metric: "count_events", from: "2026-11-05", to: "2026-11-01", epsilon: 1), "to"),
        (QuerySpec(metric: "quantile", value: "order_value", epsilon: 1), "quantile"),
        (QuerySpec(metric: "histogram", value: "quantity", bins: [3, 2], epsilon: 1), "bins"),
        (QuerySpec(metric: "count_users", lower: 0, epsilon: 1), "lower"),
        (QuerySpec(metric: "sum", value: "quantity", lower: 5, upper: 1, epsilon: 1), "upper"),
    ])
    func rejectsWithTheField(spec: QuerySpec, field: String) {
        #expect(Self.field(of: spec) == field)
    }

    /// The per-request cap is checked against what the ledger will charge, so the ledger never refuses
    /// a query for the cap after validation passed: RDP charges a pure ε = 1 release more than 1, PLD
    /// at most 1.
    @Test func capIsCheckedAgainstTheLedgersEpsilon() throws {
        var policy = ShopData.policy()
        policy.budget.maxEpsilonPerRequest = 1
        #expect(policy.privacy.accountant == .pld)
        #expect(Self.field(of: QuerySpec(metric: "count_events", epsilon: 1), policy: policy) == nil)
        policy.privacy.accountant = .rdp
        #expect(Self.field(of: QuerySpec(metric: "count_events", epsilon: 1), policy: policy) == "epsilon")
        #expect(Self.field(of: QuerySpec(metric: "count_events", epsilon: 1, mechanism: "gaussian"), policy: policy) == nil)
        #expect(Self.field(of: QuerySpec(metric: "count_events", epsilon: 0.99), policy: policy) == nil)
    }

    @Test func missingBoundIsNamed() {
        var policy = ShopData.policy()
        policy.queries.valueBounds["quantity"] = nil
        #expect(Self.field(of: QuerySpec(metric: "sum", value: "quantity", epsilon: 1), policy: policy) == "lower")
        #expect(Self.field(of: QuerySpec(metric: "sum", value: "quantity", lower: 1, epsilon: 1), policy: policy) == "upper")
        #expect(Self.field(of: QuerySpec(metric: "sum", value: "quantity", lower: 1, upper: 5, epsilon: 1), policy: policy) == nil)
    }

    @Test func parsesTheWhereClauseAndJSON() throws {
        let filter = try QueryFilter.parse("type=purchase, category=books,category=toys")
        #expect(filter == QueryFilter(types: ["purchase"], categories: ["books", "toys"]))
        #expect(throws: VeilError.self) { try QueryFilter.parse("colour=red") }
        #expect(throws: VeilError.self) { try QueryFilter.parse("type") }

        let text = #"{"metric":"sum","value":"revenue","group_by":"day","where":"category=books","from":"2026-11-02","to":"2026-11-08","epsilon":0.5,"mechanism":"gaussian"}"#
        let spec = try JSONDecoder().decode(QuerySpec.self, from: Data(text.utf8))
        #expect(spec.groupBy == "day" && spec.filter.categories == ["books"] && spec.mechanism == "gaussian")
        let object = #"{"metric":"count_events","where":{"type":["view","click"],"category":"books"},"epsilon":1}"#
        #expect(try JSONDecoder().decode(QuerySpec.self, from: Data(object.utf8)).filter == QueryFilter(types: ["view", "click"], categories: ["books"]))
        let roundTrip = try JSONDecoder().decode(QuerySpec.self, from: JSONEncoder().encode(spec))
        #expect(roundTrip == spec)
        // Unknown fields are refused by the decoder the gateway uses, by position (the key is not echoed).
        let typo = #"{"metric":"count_events","groupby":"day","epsilon":1}"#
        let error = #expect(throws: UnknownJSONField.self) {
            try StrictJSONDecoder(limits: JSONLimits(maxBytes: 1 << 20)).decode(QuerySpec.self, from: Array(typo.utf8))
        }
        #expect(error?.object == "body" && error?.position == 2)
        #expect(error?.description.contains("groupby") == false)
    }

    @Test func calendarKeysArePublicAndComplete() throws {
        let plan = try QueryPlan(
            QuerySpec(metric: "count_events", groupBy: "day", from: "2026-11-02", to: "2026-11-08", epsilon: 1), policy: Policy())
        #expect(plan.publicKeys == (2...8).map { String(format: "2026-11-%02d", $0) })
        let weeks = try QueryPlan(
            QuerySpec(metric: "count_events", groupBy: "week", from: "2026-11-04", to: "2026-11-20", epsilon: 1), policy: Policy())
        #expect(weeks.publicKeys == ["2026-11-02", "2026-11-09", "2026-11-16"])
        #expect(QueryCalendar.label(day: QueryCalendar.dayNumber(ShopData.weekStart)) == "2026-11-02")
        #expect(try QueryCalendar.parse("2026-11-02T00:00:00Z", field: "from", endOfDay: false) == ShopData.weekStart)
    }

    /// The ledger's ε for the plan's mechanism is at most the ε asked for, for both noise families,
    /// with and without partition selection; Gaussian calibration is tight.
    @Test(arguments: ["laplace", "gaussian"], [nil, "category"])
    func chargedEpsilonIsAtMostTheRequest(mechanism: String, groupBy: String?) throws {
        let policy = ShopData.policy()
        for metric in ["count_events", "mean"] {
            let spec = QuerySpec(
                metric: metric, value: metric == "mean" ? "revenue" : nil, groupBy: groupBy, epsilon: 0.8, mechanism: mechanism)
            let plan = try QueryPlan(spec, policy: policy)
            let charged = RDPAccountant.epsilon(composing: [plan.mechanism], delta: policy.budget.delta).epsilon
            if mechanism == "gaussian" {
                #expect(charged <= 0.8 + 1e-12 && charged > 0.79)
            } else {
                // The ledger accounts a pure-ε release by its RDP curve, which converts to slightly more than ε.
                #expect(charged >= 0.8 && charged < 0.81)
            }
            #expect(plan.mechanism.additiveDelta == (groupBy == nil ? 0 : policy.budget.delta * 1e-3))
        }
    }
}
