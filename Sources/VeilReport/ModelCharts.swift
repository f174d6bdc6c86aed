import VeilCore
import VeilModels

/// The exact plots of a binary model's card — ROC, precision–recall and calibration — drawn from the
/// exact curves stored in the card (`metrics.binary.curves`, beside each baseline's): computed on the
/// protected holdout users, not covered by ε, so labelled `label` (not for release) and shown only
/// where `ModelCard.shown` leaves the exact metrics in the card. A card without them (the default
/// policy, a multiclass task, or a model trained before curves were stored) has no exact plots: each
/// accessor returns nil. `PrivateModelCharts` draws the plots any card can show.
public struct ModelCharts {
    /// The card as `ModelDescription.card` holds it (snake_case keys).
    let card: [String: JSONValue]

    public init(card: [String: JSONValue]) {
        self.card = card
    }

    /// The plot names the console and the API use: `roc`, `pr`, `calibration`.
    public static let names = ["roc", "pr", "calibration"]

    /// The chart called `name` (one of `names`), or nil when the card holds no curves for it.
    public func chart(named name: String) -> Chart? {
        switch name {
        case "roc": roc
        case "pr": precisionRecall
        case "calibration": calibration
        default: nil
        }
    }

    /// How every exact chart is labelled (its subtitle).
    public static let label = "exact holdout, NOT FOR RELEASE (not covered by ε)"

    static let modelColor = "#1f5fbf"
    static let baselineColors = ["#d9822b", "#3a9d5d", "#8e5bb5"]
    static let referenceColor = "#999999"

    public var roc: Chart? {
        let series = curveSeries("roc")
        guard !series.isEmpty else { return nil }
        let chance = Chart.Series(name: "chance", points: [(0, 0), (1, 1)], color: Self.referenceColor, dashed: true)
        return Chart(
            title: "ROC — \(auc(of: "metrics").map { "AUC \(Markup.number($0, digits: 3))" } ?? "AUC n/a")", subtitle: Self.label,
            x: .init(label: "false positive rate", domain: 0...1), y: .init(label: "true positive rate", domain: 0...1),
            series: series + [chance])
    }

    public var precisionRecall: Chart? {
        let series = curveSeries("precision_recall")
        guard !series.isEmpty else { return nil }
        return Chart(
            title: "Precision–recall", subtitle: Self.label, x: .init(label: "recall", domain: 0...1), y: .init(label: "precision", domain: 0...1),
            series: series)
    }

    public var calibration: Chart? {
        guard case .array(let bins)? = curves(card["metrics"])?["calibration"], !bins.isEmpty else { return nil }
        var points: [(x: Double, y: Double)] = []
        var titles: [String] = []
        for case .object(let bin) in bins {
            guard let predicted = bin["mean_predicted"]?.number, let observed = bin["observed_rate"]?.number else { continue }
            points.append((predicted, observed))
            titles.append(
                "mean predicted \(Markup.number(predicted, digits: 3)), observed \(Markup.number(observed, digits: 3)), \(bin["count"]?.number.map { Int($0) } ?? 0) users")
        }
        return Chart(
            title: "Calibration (10 bins)", subtitle: Self.label, x: .init(label: "mean predicted probability", domain: 0...1),
            y: .init(label: "observed rate", domain: 0...1),
            series: [
                Chart.Series(name: "model", points: points, color: Self.modelColor, markers: titles),
                Chart.Series(name: "perfect calibration", points: [(0, 0), (1, 1)], color: Self.referenceColor, dashed: true),
            ])
    }

    /// The model's curve `key` and each baseline's, model first.
    private func curveSeries(_ key: String) -> [Chart.Series] {
        var series: [Chart.Series] = []
        if let points = points(curves(card["metrics"])?[key]) {
            series.append(Chart.Series(name: "model", points: points, color: Self.modelColor))
        }
        guard !series.isEmpty else { return [] }
        if case .object(let baselines)? = card["baselines"] {
            for (index, name) in baselines.keys.sorted().enumerated() {
                guard let points = points(curves(baselines[name])?[key]) else { continue }
                series.append(
                    Chart.Series(
                        name: "baseline \(name)", points: points, color: Self.baselineColors[index % Self.baselineColors.count],
                        dashed: true))
            }
        }
        return series
    }

    private func curves(_ evaluation: JSONValue?) -> [String: JSONValue]? {
        guard case .object(let evaluation)? = evaluation, case .object(let binary)? = evaluation["binary"],
            case .object(let curves)? = binary["curves"]
        else { return nil }
        return curves
    }

    private func points(_ value: JSONValue?) -> [(x: Double, y: Double)]? {
        guard case .array(let items)? = value, !items.isEmpty else { return nil }
        return items.compactMap {
            guard case .object(let point) = $0, let x = point["x"]?.number, let y = point["y"]?.number else { return nil }
            return (x, y)
        }
    }

    private func auc(of key: String) -> Double? {
        guard case .object(let evaluation)? = card[key], case .object(let binary)? = evaluation["binary"] else { return nil }
        return binary["roc_auc"]?.number
    }
}
