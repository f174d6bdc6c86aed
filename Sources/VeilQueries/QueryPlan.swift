import Foundation
import VeilCore
import VeilStore
import VeilPrivacy

/// What a query computes.
public enum QueryMetric: String, Sendable, CaseIterable {
    case countEvents = "count_events"
    case countUsers = "count_users"
    case sum, mean, histogram, quantile

    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    var takesValue: Bool { self != .countEvents && self != .countUsers }
}

/// The values a query can sum, average, bin or rank.
///
/// - `revenue`: price × quantity of one purchase event (quantity defaults to 1; a purchase without a price is skipped).
/// - `quantity`: quantity of one purchase event (default 1).
/// - `order_value`: the revenue of one order. An order is a user's purchase events in one session; a
///   purchase without a session is an order on its own. Its time is that of its first purchase.
/// - `basket_size`: the total quantity of one order.
public enum QueryValue: String, Sendable, CaseIterable {
    case revenue, quantity
    case orderValue = "order_value"
    case basketSize = "basket_size"

    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Fixed-point units per value unit: sums are exact integers (cents for money).
    var scale: Int64 { self == .revenue || self == .orderValue ? 100 : 1 }
    var isOrderLevel: Bool { self == .orderValue || self == .basketSize }
    var isMoney: Bool { scale == 100 }
}

/// How a query's answer is split into groups.
///
/// `item` has no public keys: every item ID found in the data goes through partition selection.
public enum QueryGroupBy: String, Sendable, CaseIterable {
    case type, category, item, day, week
    case hourOfDay = "hour_of_day"
    case weekday

    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// The noise family a query asks for.
public enum QueryNoise: String, Sendable, CaseIterable {
    /// Discrete Laplace: pure ε-DP (plus the δ of partition selection, when there is one).
    case laplace
    /// Discrete Gaussian, calibrated to (ε, δ) at the policy's δ through its Rényi-DP curve, which is how
    /// either accountant charges it (recorded as `gaussian`; see `PLDAccountant`).
    case gaussian
}

/// One noisy release inside a query: what it counts, its sensitivity and its noise.
struct NoisePart: Sendable {
    enum Kind: String, Sendable { case count, users, sum, histogram, selection }
    var kind: Kind
    /// Sensitivities of the released integer vector (in `unit`s of the fixed-point answer).
    var l1: Double
    var l2: Double
    /// Fixed-point units per released integer (1 except for large sums, see `QueryPlan`).
    var unit: Int64
    /// Discrete Laplace scale b or discrete Gaussian σ, in released integers.
    var scale: Double
    /// The exact sampler parameter: the Laplace scale or the Gaussian σ².
    var parameter: PositiveRational
}

/// A query checked against the policy, with its bounds, keys, sensitivities, noise and cost — all
/// computed before any data is read, from the query and the policy alone.
struct QueryPlan: Sendable {
    static let maxKeys = 5_000
    static let maxBins = 1_000
    /// The share of the policy's δ one partition selection may use (`docs/queries.md`).
    static let selectionDeltaShare = 1e-3

    let spec: QuerySpec
    let metric: QueryMetric
    let value: QueryValue?
    let groupBy: QueryGroupBy?
    let noise: QueryNoise
    let epsilon: Double
    /// The δ of the whole release (0 for pure ε).
    let delta: Double
    /// Allowed event types, indexed by `EventType.index`.
    let typeAllowed: [Bool]
    /// The categories a filter admits, by their bytes (as the stores compare them); nil: any.
    let categoryFilter: Set<ExactText>?
    let fromMillis: Int64?
    let toMillis: Int64?

    /// What the store needs to read: the date range, the allowed types and the fields the engine uses
    /// (`QueryEngine` reads nothing outside them).
    var eventFilter: EventFilter {
        let time = fromMillis == nil && toMillis == nil ? nil : (fromMillis ?? .min)..<(toMillis ?? .max)
        let types = EventType.allCases.filter { typeAllowed[$0.index] }
        return EventFilter(time: time, types: types.count == EventType.allCases.count ? nil : Set(types), fields: fieldsRead)
    }

    /// How the store groups events for this plan's group-by (`all` without one).
    var grouping: EventGrouping {
        switch groupBy {
        case nil: .all
        case .type: .type
        case .category: .category
        case .item: .item
        case .day: .day
        case .week: .week
        case .hourOfDay: .hourOfDay
        case .weekday: .weekday
        }
    }

    /// The store-side aggregate this plan can be answered from — the counts per (pseudonym, group) of
    /// the events it admits — or nil when bounding needs the events themselves (a value: reservoir
    /// sampling of values depends on their order). `QueryEngine` bounds the counts exactly as it
    /// bounds events.
    var countRequest: EventCountRequest? {
        guard value == nil else { return nil }
        return EventCountRequest(filter: eventFilter, categories: categoryFilter, grouping: grouping)
    }

    /// The optional event fields the engine reads for this plan: the category to group or filter by,
    /// the item to group by, the price and quantity of a value, the session of an order.
    var fieldsRead: Set<StoredEventField> {
        var fields: Set<StoredEventField> = []
        if groupBy == .category || categoryFilter != nil { fields.insert(.category) }
        if groupBy == .item { fields.insert(.itemID) }
        if let value {
            fields.formUnion([.price, .quantity])
            if value.isOrderLevel { fields.insert(.session) }
        }
        return fields
    }
    /// The group keys released whatever the data: public (policy categories, types, calendar buckets).
    let publicKeys: [String]
    /// Whether keys found in the data (categories not in the policy list) go through partition selection.
    let selectsPartitions: Bool
    /// Contribution bounds: groups per user (after capping at the number of public keys) and contributions per group.
    let maxGroups: Int
    let maxContributions: Int
    /// Clamping bounds in value units and in fixed point.
    let lower: Double
    let upper: Double
    let lowerFixed: Int64
    let upperFixed: Int64
    /// Histogram / quantile bin edges (value units).
    let binEdges: [Double]
    let quantile: Double?
    /// The noisy releases in order: the metric's parts, then selection.
    let parts: [NoisePart]
    /// The selection threshold on the noisy user count, and its δ.
    let selectionThreshold: Int64?
    let selectionDelta: Double?
    /// What the ledger is charged.
    let mechanism: PrivacyMechanism
    /// ε of `mechanism` at the policy's δ under the policy's accountant: what the ledger will charge
    /// (at most `budget.max_epsilon_per_request`).
    let ledgerEpsilon: Double

    init(_ spec: QuerySpec, policy: Policy) throws(VeilError) {
        self.spec = spec
        guard let metric = QueryMetric(rawValue: spec.metric) else {
            throw VeilError(.invalidInput, field: "metric", "unknown metric; use one of \(QueryMetric.names)")
        }
        self.metric = metric

        // Value.
        var value: QueryValue?
        if let name = spec.value {
            guard metric.takesValue else {
                throw VeilError(.invalidInput, field: "value", "\(metric.rawValue) takes no value; values go with sum, mean, histogram and quantile")
            }
            guard let parsed = QueryValue(rawValue: name) else {
                throw VeilError(.invalidInput, field: "value", "unknown value; use one of \(QueryValue.names)")
            }
            value = parsed
        } else if metric.takesValue {
            throw VeilError(.invalidInput, field: "value", "\(metric.rawValue) needs a value (\(QueryValue.names))")
        }
        self.value = value

        // Group-by.
        var groupBy: QueryGroupBy?
        if let name = spec.groupBy {
            guard let parsed = QueryGroupBy(rawValue: name) else {
                throw VeilError(.invalidInput, field: "group_by", "unknown group-by; use one of \(QueryGroupBy.names)")
            }
            if value != nil && parsed == .type {
                throw VeilError(.invalidInput, field: "group_by", "values are defined on purchases only, so group_by type has one group; leave it out")
            }
            if let value, value.isOrderLevel && (parsed == .category || parsed == .item) {
                throw VeilError(
                    .invalidInput, field: "group_by",
                    "an order spans \(parsed == .item ? "items" : "categories"), so \(value.rawValue) cannot be grouped by \(parsed.rawValue)")
            }
            groupBy = parsed
        }
        self.groupBy = groupBy

        // Mechanism and ε.
        let noiseName = spec.mechanism ?? "laplace"
        guard let noise = QueryNoise(rawValue: noiseName) else {
            throw VeilError(.invalidInput, field: "mechanism", "must be laplace or gaussian")
        }
        self.noise = noise
        guard spec.epsilon.isFinite && spec.epsilon > 0 else {
            throw VeilError(.invalidInput, field: "epsilon", "must be a finite number > 0")
        }
        guard spec.epsilon <= policy.budget.maxEpsilonPerRequest else {
            throw VeilError(
                .invalidInput, field: "epsilon",
                "\(spec.epsilon) is above the policy's budget.max_epsilon_per_request (\(policy.budget.maxEpsilonPerRequest)); ask for less")
        }
        epsilon = spec.epsilon

        // Filters.
        var typeAllowed = [Bool](repeating: spec.filter.types.isEmpty, count: EventType.allCases.count)
        var types: [EventType] = []
        for name in spec.filter.types {
            guard let type = EventType(rawValue: name) else {
                throw VeilError(
                    .invalidInput, field: "where.type",
                    "unknown event type; use one of \(EventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if !types.contains(type) { types.append(type) }
            typeAllowed[type.index] = true
        }
        if value != nil {
            guard spec.filter.types.isEmpty || typeAllowed[EventType.purchase.index] else {
                throw VeilError(.invalidInput, field: "where.type", "values are defined on purchase events; the filter leaves out purchase")
            }
            typeAllowed = EventType.allCases.map { $0 == .purchase }
            types = [.purchase]
        }
        self.typeAllowed = typeAllowed
        var categories: [String] = []
        for name in spec.filter.categories where !categories.contains(where: { ExactText.same($0, name) }) {
            categories.append(name)
        }
        categoryFilter = categories.isEmpty ? nil : Set(categories.map { ExactText($0) })

        let from = try spec.from.map { text throws(VeilError) in try QueryCalendar.parse(text, field: "from", endOfDay: false) }
        let to = try spec.to.map { text throws(VeilError) in try QueryCalendar.parse(text, field: "to", endOfDay: true) }
        if let from, let to, from >= to {
            throw VeilError(.invalidInput, field: "to", "must be after from")
        }
        fromMillis = from
        toMillis = to

        // Keys.
        var keys: [String]
        var selects = false
        switch groupBy {
        case nil:
            keys = ["all"]
        case .type:
            keys = (types.isEmpty ? EventType.allCases : types).map(\.rawValue)
        case .category:
            if categories.isEmpty {
                keys = policy.categories
                selects = true
            } else {
                keys = categories
            }
        case .item:
            keys = []
            selects = true
        case .day, .week:
            guard let from, let to else {
                throw VeilError(
                    .invalidInput, field: "group_by",
                    "group_by \(groupBy!.rawValue) needs from and to, so that every calendar bucket is a public key")
            }
            keys = groupBy == .day ? QueryCalendar.dayKeys(from: from, to: to) : QueryCalendar.weekKeys(from: from, to: to)
        case .hourOfDay:
            keys = (0..<24).map { String(format: "%02d", $0) }
        case .weekday:
            keys = QueryCalendar.weekdayNames
        }
        guard keys.count <= Self.maxKeys else {
            throw VeilError(.invalidInput, field: "group_by", "would make \(keys.count) groups; at most \(Self.maxKeys) — narrow from/to")
        }
        publicKeys = keys
        selectsPartitions = selects

        // Bounds.
        let queries = policy.queries
        guard queries.maxGroupsPerUser >= 1, queries.maxContributionsPerGroup >= 1 else {
            throw VeilError(.invalidInput, field: "queries.max_groups_per_user", "contribution bounds in the policy must be ≥ 1")
        }
        maxGroups = selects ? queries.maxGroupsPerUser : min(queries.maxGroupsPerUser, max(1, keys.count))
        maxContributions = metric == .countUsers ? 1 : queries.maxContributionsPerGroup
        if let value {
            let bounds = queries.valueBounds[value.rawValue]
            guard let lower = spec.lower ?? bounds?.lower else {
                throw VeilError(.invalidInput, field: "lower", "no lower bound for \(value.rawValue): give lower or set queries.value_bounds.\(value.rawValue) in the policy")
            }
            guard let upper = spec.upper ?? bounds?.upper else {
                throw VeilError(.invalidInput, field: "upper", "no upper bound for \(value.rawValue): give upper or set queries.value_bounds.\(value.rawValue) in the policy")
            }
            guard lower.isFinite, upper.isFinite, lower < upper, abs(lower) < 1e9, abs(upper) < 1e9 else {
                throw VeilError(.invalidInput, field: "upper", "bounds must be finite, within ±1e9, with lower < upper")
            }
            self.lower = lower
            self.upper = upper
            lowerFixed = Int64((lower * Double(value.scale)).rounded())
            upperFixed = Int64((upper * Double(value.scale)).rounded())
        } else {
            if spec.lower != nil || spec.upper != nil {
                throw VeilError(.invalidInput, field: "lower", "bounds go with a value; \(metric.rawValue) takes none")
            }
            (lower, upper, lowerFixed, upperFixed) = (0, 0, 0, 0)
        }

        // Bins and quantile.
        if metric == .histogram || metric == .quantile {
            if let edges = spec.bins {
                guard edges.count >= 2, edges.count <= Self.maxBins + 1, edges.allSatisfy(\.isFinite),
                    zip(edges, edges.dropFirst()).allSatisfy({ $0 < $1 })
                else {
                    throw VeilError(.invalidInput, field: "bins", "must be 2 to \(Self.maxBins + 1) finite, strictly increasing edges")
                }
                binEdges = edges
            } else {
                binEdges = Self.defaultBins(lower: lower, upper: upper, integral: value?.scale == 1, fine: metric == .quantile)
            }
        } else {
            if spec.bins != nil { throw VeilError(.invalidInput, field: "bins", "bins go with histogram and quantile") }
            binEdges = []
        }
        if metric == .quantile {
            guard let q = spec.quantile, q > 0, q < 1 else {
                throw VeilError(.invalidInput, field: "quantile", "metric quantile needs quantile in (0, 1), e.g. 0.5 for the median")
            }
            quantile = q
        } else {
            if spec.quantile != nil { throw VeilError(.invalidInput, field: "quantile", "quantile goes with metric quantile") }
            quantile = nil
        }

        // Sensitivities: one user changes at most `maxGroups` groups, each by at most `maxContributions`
        // contributions of magnitude at most `magnitude` (fixed point).
        let g = Double(maxGroups)
        let c = Double(maxContributions)
        let magnitude = Double(max(abs(lowerFixed), abs(upperFixed)))
        var kinds: [(NoisePart.Kind, perGroupL1: Double, perGroupL2: Double, summed: Bool)] = []
        switch metric {
        case .countEvents: kinds = [(.count, c, c, false)]
        case .countUsers: kinds = [(.users, 1, 1, false)]
        case .sum: kinds = [(.sum, c * magnitude, c * magnitude, true)]
        case .mean: kinds = [(.sum, c * magnitude, c * magnitude, true), (.count, c, c, false)]
        case .histogram, .quantile: kinds = [(.histogram, c, c, false)]
        }
        if selects { kinds.append((.selection, 1, 1, false)) }

        // Calibrate: Laplace splits ε evenly; Gaussian uses one noise multiplier for every part.
        let k = kinds.count
        let policyDelta = policy.budget.delta
        let thresholdDelta = selects ? policyDelta * Self.selectionDeltaShare : nil
        selectionDelta = thresholdDelta
        let wrap: @Sendable (PrivacyMechanism) -> PrivacyMechanism = { base in
            if let thresholdDelta { return .thresholded(base: base, delta: thresholdDelta) }
            return base
        }
        let method = AccountingMethod(policy.privacy.accountant)
        var multiplier = 0.0
        switch noise {
        case .laplace:
            mechanism = wrap(.pureEpsilon(epsilon: spec.epsilon))
            delta = thresholdDelta ?? 0
        case .gaussian:
            multiplier = try Self.calibrate(epsilon: spec.epsilon, delta: policyDelta, count: k, method: method, wrap: wrap)
            mechanism = wrap(.gaussian(noiseMultiplier: multiplier, count: k))
            delta = policyDelta
        }
        let charged = PrivacyAccountant.epsilon(composing: [mechanism], delta: policyDelta, method: method)
        ledgerEpsilon = charged
        guard charged <= policy.budget.maxEpsilonPerRequest else {
            throw VeilError(
                .invalidInput, field: "epsilon",
                "the ledger would charge ε = \(charged) for this query (the \(method.kind.rawValue) accountant at the policy's δ), above budget.max_epsilon_per_request (\(policy.budget.maxEpsilonPerRequest)); ask for less")
        }
        var parts: [NoisePart] = []
        for (kind, perGroupL1, perGroupL2, summed) in kinds {
            var unit: Int64 = 1
            while true {
                // Large sums are released in coarser units u (a power of ten of the fixed point): the
                // group's exact sum is rounded to a multiple of u, which adds at most 1 per group.
                let l1Group = summed && unit > 1 ? (perGroupL1 / Double(unit)).rounded(.down) + 1 : perGroupL1
                let l2Group = summed && unit > 1 ? (perGroupL2 / Double(unit)).rounded(.down) + 1 : perGroupL2
                let l1 = kind == .selection || kind == .users ? g : g * l1Group
                let l2 = kind == .selection || kind == .users ? g.squareRoot() : g.squareRoot() * l2Group
                let scale = noise == .laplace ? l1 / (spec.epsilon / Double(k)) : multiplier * l2
                let parameter = noise == .laplace ? scale : scale * scale
                if let rational = Self.rational(parameter), parameter <= Double(1 << 36) {
                    parts.append(NoisePart(kind: kind, l1: l1, l2: l2, unit: unit, scale: scale, parameter: rational))
                    break
                }
                guard summed, unit < 1_000_000_000_000 else {
                    throw VeilError(.invalidInput, field: "epsilon", "is too small for these bounds: the noise would be too large to sample exactly")
                }
                unit *= 10
            }
        }
        self.parts = parts

        if let thresholdDelta, let part = parts.last {
            selectionThreshold = Self.threshold(part: part, noise: noise, groups: maxGroups, delta: thresholdDelta)
        } else {
            selectionThreshold = nil
        }
    }

    /// Answer units (e.g. currency for revenue) per released integer of `part`.
    func answerUnit(_ part: NoisePart) -> Double {
        Double(part.unit) / Double(part.kind == .sum ? value?.scale ?? 1 : 1)
    }

    /// The exact sampler parameter, rounded up (more noise, never less) with the finest denominator that fits.
    static func rational(_ value: Double) -> PositiveRational? {
        for bits in stride(from: 20, through: 0, by: -1) {
            if let rational = PositiveRational(roundingUp: value, denominatorBits: bits) { return rational }
        }
        return nil
    }

    /// The smallest noise multiplier z (bisection to 1e-9 relative) for which `count` Gaussian releases
    /// with multiplier z, wrapped for selection, are (ε, δ)-DP by the ledger's accountant (`method`).
    static func calibrate(
        epsilon: Double, delta: Double, count: Int, method: AccountingMethod, wrap: (PrivacyMechanism) -> PrivacyMechanism
    ) throws(VeilError) -> Double {
        func cost(_ z: Double) -> Double {
            PrivacyAccountant.epsilon(composing: [wrap(.gaussian(noiseMultiplier: z, count: count))], delta: delta, method: method)
        }
        var high = 1.0
        while cost(high) > epsilon {
            high *= 2
            guard high < 1e7 else { throw VeilError(.invalidInput, field: "epsilon", "cannot be met by Gaussian noise at the policy's δ") }
        }
        var low = high / 2
        while cost(low) <= epsilon && low > 1e-6 {
            high = low
            low /= 2
        }
        while high - low > 1e-9 * high {
            let middle = (low + high) / 2
            if cost(middle) <= epsilon { high = middle } else { low = middle }
        }
        return high
    }

    /// The partition-selection threshold τ on a noisy user count: a key whose only user is one person
    /// (true count 1) passes with probability at most δ/G, so all of one user's ≤ G keys together at most δ.
    /// Discrete Laplace with parameter p = e^(−1/b): P(X ≥ k) = p^k/(1+p). Discrete Gaussian: P(X ≥ k) ≤
    /// exp(−k²/2σ²) (it is σ-sub-Gaussian, CKS 2020 Corollary 9).
    static func threshold(part: NoisePart, noise: QueryNoise, groups: Int, delta: Double) -> Int64 {
        let target = delta / Double(groups)
        switch noise {
        case .laplace:
            let b = part.parameter.doubleValue
            let p = exp(-1 / b)
            // p^k / (1 + p) ≤ target  ⇔  k ≥ log(target (1 + p)) / log p
            return 1 + Int64((log(target * (1 + p)) / log(p)).rounded(.up))
        case .gaussian:
            let sigma = part.parameter.doubleValue.squareRoot()
            return 1 + Int64((sigma * (2 * log(1 / target)).squareRoot()).rounded(.up))
        }
    }

    /// Ten equal bins for a histogram; for a quantile one bin per integer for small integer ranges, else 100 bins.
    static func defaultBins(lower: Double, upper: Double, integral: Bool, fine: Bool) -> [Double] {
        if integral && upper - lower <= 100 && lower.rounded() == lower && upper.rounded() == upper && (fine || upper - lower <= 20) {
            return stride(from: lower, through: upper + 1, by: 1).map { $0 }
        }
        let count = fine ? 100 : 10
        return (0...count).map { lower + (upper - lower) * Double($0) / Double(count) }
    }
}

/// UTC calendar arithmetic for time filters and calendar group keys (proleptic Gregorian).
enum QueryCalendar {
    static let weekdayNames = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    static let dayMillis: Int64 = 86_400_000

    /// `YYYY-MM-DD` (midnight UTC; with `endOfDay`, the next midnight) or an RFC 3339 timestamp, as
    /// Unix ms (`DateText`, the forms every face accepts).
    static func parse(_ text: String, field: String, endOfDay: Bool) throws(VeilError) -> Int64 {
        guard let millis = DateText.millis(text, endOfDay: endOfDay) else {
            throw VeilError(.invalidInput, field: field, DateText.rule)
        }
        return millis
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// The day and week numbers of calendar keys: `EventGrouping`'s, the one definition the store's counts use too.
    static func dayNumber(_ millis: Int64) -> Int64 { EventGrouping.day.number(ofMillis: millis) }
    /// Weeks start on Monday; 1970-01-01 was a Thursday.
    static func weekNumber(_ millis: Int64) -> Int64 { EventGrouping.week.number(ofMillis: millis) }

    static func dayKeys(from: Int64, to: Int64) -> [String] {
        let first = dayNumber(from)
        let last = dayNumber(to - 1)
        guard last - first < Int64(QueryPlan.maxKeys) else { return Array(repeating: "", count: QueryPlan.maxKeys + 1) }
        return (first...last).map(label(day:))
    }

    /// Keys are the Monday of each week.
    static func weekKeys(from: Int64, to: Int64) -> [String] {
        let first = weekNumber(from)
        let last = weekNumber(to - 1)
        guard last - first < Int64(QueryPlan.maxKeys) else { return Array(repeating: "", count: QueryPlan.maxKeys + 1) }
        return (first...last).map { label(day: $0 * 7 - 3) }
    }

    static func label(day: Int64) -> String { CivilDate.label(millis: day * dayMillis) }
}
