import Foundation
import VeilCore

/// An aggregate query as an analyst writes it, on the command line (`veil query`) or as the JSON body
/// of `POST /v1/queries`. Field names are the snake_case names of the CLI options:
///
/// ```json
/// {"metric": "sum", "value": "revenue", "group_by": "category",
///  "where": "type=purchase,category=books", "from": "2026-11-01", "to": "2026-11-07",
///  "epsilon": 0.5, "mechanism": "gaussian"}
/// ```
///
/// `where` is either the CLI's text form or an object `{"type": ["purchase"], "category": ["books"]}`.
/// Nothing here is checked yet: `QueryPlan` validates a spec against the policy and names the field
/// of any broken rule (see `docs/queries.md`).
public struct QuerySpec: Sendable, Hashable {
    /// `count_events`, `count_users`, `sum`, `mean`, `histogram` or `quantile`.
    public var metric: String
    /// `revenue`, `quantity`, `order_value` or `basket_size` (sum, mean, histogram, quantile only).
    public var value: String?
    /// `type`, `category`, `item`, `day`, `week`, `hour_of_day` or `weekday`.
    public var groupBy: String?
    /// Event filters (`where`).
    public var filter: QueryFilter
    /// Start of the time range: `YYYY-MM-DD` (UTC midnight) or an RFC 3339 timestamp; inclusive.
    public var from: String?
    /// End of the time range: `YYYY-MM-DD` (that whole UTC day is included) or an RFC 3339 timestamp (exclusive).
    public var to: String?
    /// Histogram / quantile bin edges, strictly increasing.
    public var bins: [Double]?
    /// The quantile to estimate, in (0, 1) (metric `quantile`).
    public var quantile: Double?
    /// Clamping bounds for the value; default from the policy's `queries.value_bounds`.
    public var lower: Double?
    public var upper: Double?
    /// The ε this query may spend (at most the policy's `max_epsilon_per_request`).
    public var epsilon: Double
    /// `laplace` (discrete Laplace, pure ε; the default) or `gaussian` (discrete Gaussian, (ε, δ) at the policy's δ).
    public var mechanism: String?

    public init(
        metric: String, value: String? = nil, groupBy: String? = nil, filter: QueryFilter = QueryFilter(),
        from: String? = nil, to: String? = nil, bins: [Double]? = nil, quantile: Double? = nil,
        lower: Double? = nil, upper: Double? = nil, epsilon: Double, mechanism: String? = nil
    ) {
        self.metric = metric
        self.value = value
        self.groupBy = groupBy
        self.filter = filter
        self.from = from
        self.to = to
        self.bins = bins
        self.quantile = quantile
        self.lower = lower
        self.upper = upper
        self.epsilon = epsilon
        self.mechanism = mechanism
    }
}

/// The `where` clause: which events a query reads. Empty lists mean "no restriction".
public struct QueryFilter: Sendable, Hashable {
    /// Event type names (`purchase`, `add_to_cart`, …).
    public var types: [String]
    /// Category names. Naming categories here makes them public group keys (see `docs/queries.md`).
    public var categories: [String]

    public init(types: [String] = [], categories: [String] = []) {
        self.types = types
        self.categories = categories
    }

    public var isEmpty: Bool { types.isEmpty && categories.isEmpty }

    /// Parses the CLI form `type=purchase,category=books,category=toys` (a key may repeat; its values
    /// accumulate). Keys are `type` and `category`.
    public static func parse(_ text: String) throws(VeilError) -> QueryFilter {
        var filter = QueryFilter()
        for term in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = term.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[1].isEmpty else {
                throw VeilError(.invalidInput, field: "where", "each term must be key=value (keys: type, category), separated by commas")
            }
            switch parts[0] {
            case "type": filter.types.append(parts[1])
            case "category": filter.categories.append(parts[1])
            default:
                throw VeilError(.invalidInput, field: "where", "unknown key \"\(parts[0])\"; the keys are type and category")
            }
        }
        return filter
    }

    /// The CLI form, for messages and the audit record.
    public var text: String {
        (types.map { "type=\($0)" } + categories.map { "category=\($0)" }).joined(separator: ",")
    }
}

extension QueryFilter: Codable {
    private struct Object: Codable {
        var type: OneOrMany?
        var category: OneOrMany?
    }

    private enum OneOrMany: Codable {
        case many([String])

        var values: [String] { if case let .many(values) = self { values } else { [] } }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let one = try? container.decode(String.self) {
                self = .many([one])
            } else {
                self = .many(try container.decode([String].self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(values)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self = try QueryFilter.parse(text)
            return
        }
        guard let object = try? container.decode(Object.self) else {
            throw VeilError(
                .invalidInput, field: "where",
                "must be \"key=value,...\" or an object {\"type\": [...], \"category\": [...]}")
        }
        self.init(types: object.type?.values ?? [], categories: object.category?.values ?? [])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Object(type: .many(types), category: .many(categories)))
    }
}

extension QuerySpec: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case metric, value, from, to, bins, quantile, lower, upper, epsilon, mechanism
        case groupBy = "group_by"
        case filter = "where"
    }

    /// Decodes the JSON form. Unknown fields (a misspelt `group_by`) are refused by the gateway's
    /// `StrictJSONDecoder`, which names them by position: this type asks for every field it knows.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard let metric = try? container.decode(String.self, forKey: .metric) else {
            throw VeilError(.invalidInput, field: "metric", "is required (\(QueryMetric.names))")
        }
        guard let epsilon = try? container.decode(Double.self, forKey: .epsilon) else {
            throw VeilError(.invalidInput, field: "epsilon", "is required: a number > 0")
        }
        self.init(
            metric: metric,
            value: try container.decodeIfPresent(String.self, forKey: .value),
            groupBy: try container.decodeIfPresent(String.self, forKey: .groupBy),
            filter: try container.decodeIfPresent(QueryFilter.self, forKey: .filter) ?? QueryFilter(),
            from: try container.decodeIfPresent(String.self, forKey: .from),
            to: try container.decodeIfPresent(String.self, forKey: .to),
            bins: try container.decodeIfPresent([Double].self, forKey: .bins),
            quantile: try container.decodeIfPresent(Double.self, forKey: .quantile),
            lower: try container.decodeIfPresent(Double.self, forKey: .lower),
            upper: try container.decodeIfPresent(Double.self, forKey: .upper),
            epsilon: epsilon,
            mechanism: try container.decodeIfPresent(String.self, forKey: .mechanism))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(metric, forKey: .metric)
        try container.encodeIfPresent(value, forKey: .value)
        try container.encodeIfPresent(groupBy, forKey: .groupBy)
        if !filter.isEmpty { try container.encode(filter, forKey: .filter) }
        try container.encodeIfPresent(from, forKey: .from)
        try container.encodeIfPresent(to, forKey: .to)
        try container.encodeIfPresent(bins, forKey: .bins)
        try container.encodeIfPresent(quantile, forKey: .quantile)
        try container.encodeIfPresent(lower, forKey: .lower)
        try container.encodeIfPresent(upper, forKey: .upper)
        try container.encode(epsilon, forKey: .epsilon)
        try container.encodeIfPresent(mechanism, forKey: .mechanism)
    }
}
