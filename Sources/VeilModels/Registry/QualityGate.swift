import VeilCore

/// Whether a model beats its baselines on the held-out users, read from its card: the rule a
/// reviewer's approval is checked against (`ModelRegistry.approve`).
///
/// The rule, stated once:
/// - a binary task (`purchase`, `churn`) passes when its ROC AUC is above 0.5 (better than chance) and
///   above every baseline's ROC AUC on the card; an undefined AUC (one class in the holdout) fails;
/// - a multiclass task (`next_category`) passes when its top-1 accuracy is above every baseline's;
/// - a ranking task (`next_item`) passes when its Recall@K is above every baseline's (popularity,
///   transitions);
/// - a card with none of these metrics fails.
///
/// A model that fails is approved only with an override note (`override_quality`), which is recorded
/// with the approval and shown with the card.
public struct QualityGate: Sendable, Hashable {
    public var passes: Bool
    /// `roc_auc`, `top1_accuracy` or `recall` (nil when the card has none).
    public var metric: String?
    public var model: Double?
    /// The baseline the model must beat (the best one), and its value.
    public var bestBaseline: String?
    public var bestBaselineValue: Double?
    /// One sentence a reviewer reads: what was compared and how it came out.
    public var reason: String

    /// The gate as the card shows it (`quality_gate`): `passes`, `metric`, `model`, `best_baseline`,
    /// `best_baseline_value`, `reason` (null where there is nothing).
    public var json: [String: JSONValue] {
        [
            "passes": .bool(passes), "metric": metric.map(JSONValue.string) ?? .null, "model": model.map(JSONValue.double) ?? .null,
            "best_baseline": bestBaseline.map(JSONValue.string) ?? .null,
            "best_baseline_value": bestBaselineValue.map(JSONValue.double) ?? .null, "reason": .string(reason),
        ]
    }

    /// `gate` (as `json`) for a reader who may not see the exact holdout statistics
    /// (`ModelCard.shown`): without `model` and `best_baseline_value`, its `reason` naming no number.
    /// `passes`, `metric`, `best_baseline` and an override stay: a reviewer needs them to know whether
    /// an approval needs an override.
    public static func withoutExactValues(_ gate: [String: JSONValue]) -> [String: JSONValue] {
        var gate = gate
        gate.removeValue(forKey: "model")
        gate.removeValue(forKey: "best_baseline_value")
        gate["reason"] = .string(numberFreeReason(passes: gate["passes"] == .bool(true)))
        return gate
    }

    /// The reason without the exact values it compares: whether the model beats its baselines.
    public static func numberFreeReason(passes: Bool) -> String {
        (passes ? "the model beats" : "the model does not beat")
            + " its baselines on the exact holdout metrics (the values are not shown: they are not covered by epsilon)"
    }

    /// The gate for the stored card `card` (snake_case JSON, as `ModelFile.cardJSON` reads it): read
    /// off its exact metrics and baselines, or, for a card stored without them
    /// (`ModelCard.withoutExactMetrics`), its stored `quality_gate` (no numbers).
    public static func judge(card: [String: JSONValue]) -> QualityGate {
        if card["metrics"] == nil, let stored = card["quality_gate"]?.objectValue, case .bool(let passes)? = stored["passes"] {
            return QualityGate(
                passes: passes, metric: stored["metric"]?.stringValue, model: nil,
                bestBaseline: stored["best_baseline"]?.stringValue, bestBaselineValue: nil,
                reason: numberFreeReason(passes: passes))
        }
        let baselines = card["baselines"]?.objectValue ?? [:]
        if let model = Self.score(card["metrics"], "binary", "roc_auc") {
            return judge(section: "binary", metric: "roc_auc", label: "ROC AUC", model: model, floor: 0.5, baselines: baselines)
        }
        if card["metrics"]?.objectValue?["binary"]?.objectValue != nil {
            return QualityGate(
                passes: false, metric: "roc_auc", model: nil, bestBaseline: nil, bestBaselineValue: nil,
                reason: "ROC AUC is undefined (the holdout users hold one class only), so the model cannot be shown to beat anything")
        }
        if let model = Self.score(card["metrics"], "multiclass", "top1_accuracy") {
            return judge(section: "multiclass", metric: "top1_accuracy", label: "top-1 accuracy", model: model, floor: nil, baselines: baselines)
        }
        if let model = Self.score(card["metrics"], "ranking", "recall") {
            return judge(section: "ranking", metric: "recall", label: "Recall@K", model: model, floor: nil, baselines: baselines)
        }
        return QualityGate(
            passes: false, metric: nil, model: nil, bestBaseline: nil, bestBaselineValue: nil,
            reason: "the card holds no ROC AUC, top-1 accuracy or Recall@K to compare with the baselines")
    }

    private static func judge(
        section: String, metric: String, label: String, model: Double, floor: Double?, baselines: [String: JSONValue]
    ) -> QualityGate {
        let best = baselines.compactMap { name, value in score(value, section, metric).map { (name: name, value: $0) } }
            .max { $0.value < $1.value || ($0.value == $1.value && $0.name > $1.name) }
        var gate = QualityGate(
            passes: true, metric: metric, model: model, bestBaseline: best?.name, bestBaselineValue: best?.value, reason: "")
        let shown = { (value: Double) in String(format: "%.4f", value) }
        if let floor, model <= floor {
            gate.passes = false
            gate.reason = "\(label) \(shown(model)) is not above \(shown(floor)) (chance)"
        } else if let best, model <= best.value {
            gate.passes = false
            gate.reason = "\(label) \(shown(model)) is not above the \(best.name) baseline's \(shown(best.value))"
        } else if let best {
            gate.reason = "\(label) \(shown(model)) is above the best baseline (\(best.name), \(shown(best.value)))"
        } else {
            gate.reason = "\(label) \(shown(model)) is above chance; the card has no baseline"
        }
        return gate
    }

    /// `value[section][metric]` as a number, if it is one.
    private static func score(_ value: JSONValue?, _ section: String, _ metric: String) -> Double? {
        value?.objectValue?[section]?.objectValue?[metric]?.number
    }
}

extension JSONValue {
    /// The members of an object, nil for any other value.
    package var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The text of a string, nil for any other value.
    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The value as a Double when it is a JSON number.
    package var number: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
