import Foundation
import VeilCore

/// The features Veil computes per user, with the public bounds that clamp and scale them.
///
/// Every feature is mapped to [0, 1] using only the policy (`Policy.features`, `Policy.categories`),
/// never statistics of the data, so the scaling itself releases nothing. Counts use a log scale
/// `log1p(min(x, max)) / log1p(max)`; durations and money a linear scale `min(x, max) / max`; ratios and
/// shares are already in [0, 1].
public struct FeatureSchema: Sendable, Hashable, Codable {
    /// How one raw feature value is mapped to [0, 1].
    public enum Scaling: String, Sendable, Codable, Hashable {
        /// `log1p(min(max(x, 0), upper)) / log1p(upper)`.
        case logCount = "log_count"
        /// `min(max(x, 0), upper) / upper`.
        case linear
        /// `min(max(x, 0), 1)`; `upper` is 1.
        case unit
    }

    /// One feature: its name, public upper bound and scaling.
    public struct Feature: Sendable, Hashable, Codable {
        public var name: String
        public var upper: Double
        public var scaling: Scaling

        /// The scaled value in [0, 1].
        public func scale(_ raw: Double) -> Double {
            let clamped = raw.isNaN ? 0 : min(max(raw, 0), upper)  // +inf (e.g. "never purchased") → upper
            switch scaling {
            case .logCount: return log1p(clamped) / log1p(upper)
            case .linear: return clamped / upper
            case .unit: return clamped
            }
        }
    }

    public var features: [Feature]
    /// The policy's categories, in order (the `share_category_*` features and the `next_category` classes).
    public var categories: [String]

    public var names: [String] { features.map(\.name) }

    private enum CodingKeys: String, CodingKey { case features, categories }

    /// Decodes a model's schema, refusing one that names a feature this build does not compute (a
    /// model of a newer build), naming the field.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        features = try container.decode([Feature].self, forKey: .features)
        categories = try container.decode([String].self, forKey: .categories)
        let known = Set(Self.computable(categories: categories).map(\.name))
        guard features.allSatisfy({ known.contains($0.name) }) else {
            throw VeilError(.invalidInput, field: "features", "the model reads a feature this Veil does not compute; upgrade Veil")
        }
    }

    /// The schema the policy defines: every feature Veil computes (`computable(categories:)`), with
    /// the policy's bounds.
    public init(policy: Policy) {
        features = Self.computable(bounds: policy.features, categories: policy.categories)
        categories = policy.categories
    }

    /// Every feature this build computes for `categories`, in the order `FeatureExtractor`'s tally
    /// lists them. A model's schema (its card) may hold fewer — those of the build that trained it —
    /// in any order; `FeatureExtractor` computes them by name.
    static func computable(bounds: Policy.Features = Policy.Features(), categories: [String]) -> [Feature] {
        var features: [Feature] = EventType.allCases.map {
            Feature(name: "count_\($0.rawValue)", upper: bounds.maxEventsPerType, scaling: .logCount)
        }
        features += ["distinct_sessions", "distinct_items", "distinct_categories"].map {
            Feature(name: $0, upper: bounds.maxDistinct, scaling: .logCount)
        }
        features += ["days_since_last_event", "days_since_last_purchase", "tenure_days"].map {
            Feature(name: $0, upper: bounds.maxDays, scaling: .linear)
        }
        features.append(Feature(name: "spend", upper: bounds.maxSpend, scaling: .linear))
        features.append(Feature(name: "average_order_value", upper: bounds.maxOrderValue, scaling: .linear))
        features += ["view_to_cart_ratio", "cart_to_purchase_ratio", "return_rate"].map {
            Feature(name: $0, upper: 1, scaling: .unit)
        }
        features += ["events_last_7_days", "events_last_30_days"].map {
            Feature(name: $0, upper: bounds.maxEventsPerType, scaling: .logCount)
        }
        features += categories.map { Feature(name: categoryShare($0), upper: 1, scaling: .unit) }
        features += TimeOfDay.allCases.map { Feature(name: "share_\($0.rawValue)", upper: 1, scaling: .unit) }
        features.append(Feature(name: "share_weekend", upper: 1, scaling: .unit))
        features += categories.map { Feature(name: sessionCategoryShare($0), upper: 1, scaling: .unit) }
        return features
    }

    /// The feature of the share of a user's categorised events in `category`.
    public static func categoryShare(_ category: String) -> String { "share_category_\(category)" }

    /// The feature of the share of a user's sessions in `category`: each session with categorised
    /// events has weight 1, split among its categories as its events are (a categorised event without
    /// a session is a session of its own). A shopper's session mostly browses one category, so this
    /// counts their visits to a category where `categoryShare` counts clicks, which long sessions
    /// inflate.
    public static func sessionCategoryShare(_ category: String) -> String { "session_share_category_\(category)" }

    /// Coarse time-of-day buckets (UTC).
    enum TimeOfDay: String, CaseIterable {
        case night, morning, afternoon, evening

        init(hour: Int) {
            switch hour {
            case 0..<6: self = .night
            case 6..<12: self = .morning
            case 12..<18: self = .afternoon
            default: self = .evening
            }
        }
    }
}
