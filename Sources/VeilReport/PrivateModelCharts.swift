import Foundation
import VeilCore
import VeilLearning
import VeilModels

/// The plots every card can show under any policy, drawn from its differentially private holdout
/// evaluation (`private_metrics`: the released noisy histogram and the metrics with their 95%
/// intervals). They are post-processing of a release already paid for inside the run's ε, so they are
/// labelled `label` and may be published, unlike the exact curves (`ModelCharts`).
///
/// - A binary card (`binary_score_histogram`): ROC, precision–recall and calibration from the noisy
///   counts (`NoisyCurves`: negative counts clamped at 0, so the cumulative counts are monotone;
///   calibration at each bin's midpoint).
/// - A multiclass card (`top_label_histogram`): top-1 and top-3 accuracy as bars with their intervals,
///   and the top class's calibration from the noisy counts.
///
/// A calibration bin with fewer than `reliableExamples(sigma:)` noisy users is drawn as a hollow ring,
/// not joined to the others, and the legend says its rate is mostly noise; a bin with none is left out.
public struct PrivateModelCharts {
    /// How every private chart is labelled (its subtitle).
    public static let label = "differentially private (from noisy counts)"

    /// The card's `private_metrics`, nil when it has none.
    let evaluation: [String: JSONValue]?
    let isPrivate: Bool
    let isSequence: Bool

    /// `card` as `ModelDescription.card` holds it (snake_case keys).
    public init(card: [String: JSONValue]) {
        if case .object(let evaluation)? = card["private_metrics"] { self.evaluation = evaluation } else { evaluation = nil }
        isPrivate = card["is_private"] == .bool(true)
        if case .object? = card["sequence"] { isSequence = true } else { isSequence = false }
    }

    /// The fewest noisy users a calibration bin needs to be drawn filled: 10σ (at least 1). With n
    /// users the noise alone moves the bin's observed rate r by about σ·√(1 + r²) / n, at most about
    /// 0.14 at n = 10σ; below that the point says more about the noise than about the model.
    public static func reliableExamples(sigma: Double) -> Int {
        max(1, Int((10 * sigma).rounded(.up)))
    }

    /// The charts, in the order the card shows them (empty when `unavailable` says why).
    public var charts: [Chart] {
        guard let evaluation else { return [] }
        let sigma = evaluation["noise_sigma"]?.number ?? 0
        let histogram = released
        switch evaluation["histogram"] {
        case .string("binary_score_histogram")?:
            guard let curves = histogram?.noisyCurves else { return [] }
            return [roc(curves), precisionRecall(curves), calibration(curves, sigma: sigma, title: "Calibration (10 bins)",
                x: "predicted probability (bin midpoint)", y: "observed rate of label 1")]
        case .string("top_label_histogram")?:
            var charts = [topKAccuracy()].compactMap { $0 }
            if let curves = histogram?.noisyCurves {
                charts.append(calibration(curves, sigma: sigma, title: "Top-label calibration (\(curves.calibration.count) bins)",
                    x: "confidence of the top class (bin midpoint)", y: "top-1 accuracy"))
            }
            return charts
        default:
            return []
        }
    }

    /// Why the card has no private plots (nil when it has some).
    public var unavailable: String? {
        guard charts.isEmpty else { return nil }
        if !isPrivate { return "a non-private run releases no private metrics" }
        if isSequence { return "sequence models release no private metrics yet" }
        if evaluation == nil { return "this card holds no private metrics (a model trained before Veil released them)" }
        return "this card keeps no noisy counts (a model trained before Veil kept them); its private metrics are in the table"
    }

    /// The released histogram rebuilt from `histogram`, `bins` and `noisy_counts`.
    private var released: HoldoutHistogram? {
        guard let evaluation, case .string(let name)? = evaluation["histogram"], let bins = evaluation["bins"]?.number,
            let layout = HoldoutHistogram.Layout(name: name, bins: Int(bins)), case .array(let cells)? = evaluation["noisy_counts"],
            cells.count == layout.cellCount
        else { return nil }
        let counts = cells.compactMap { $0.number.map { Int($0) } }
        return counts.count == layout.cellCount ? HoldoutHistogram(layout: layout, counts: counts) : nil
    }

    /// The private estimate `name`: its value and 95% interval, as the card holds them.
    func estimate(_ name: String) -> (value: Double, interval: ClosedRange<Double>?)? {
        guard case .object(let metrics)? = evaluation?["metrics"], case .object(let metric)? = metrics[name],
            let value = metric["value"]?.number
        else { return nil }
        guard let low = metric["low"]?.number, let high = metric["high"]?.number, low <= high else { return (value, nil) }
        return (value, low...high)
    }

    /// "0.731 [0.702, 0.76]"; "0.787 (no interval: noise too large)" when the noisy counts could not
    /// form one (the value then says more about the noise than about the model); "n/a" when the card has
    /// no such estimate.
    func estimateText(_ name: String) -> String {
        guard let estimate = estimate(name) else { return "n/a" }
        let digits = { (value: Double) in Markup.number(value, digits: 3) }
        guard let interval = estimate.interval else { return digits(estimate.value) + " (no interval: noise too large)" }
        return digits(estimate.value) + " [\(digits(interval.lowerBound)), \(digits(interval.upperBound))]"
    }

    private static let modelName = "model (noisy counts)"

    private func roc(_ curves: NoisyCurves) -> Chart {
        Chart(
            title: "ROC — AUC \(estimateText("roc_auc"))", subtitle: Self.label,
            x: .init(label: "false positive rate", domain: 0...1), y: .init(label: "true positive rate", domain: 0...1),
            series: [
                Chart.Series(name: Self.modelName, points: curves.roc.map { ($0.x, $0.y) }, color: ModelCharts.modelColor),
                Chart.Series(name: "chance", points: [(0, 0), (1, 1)], color: ModelCharts.referenceColor, dashed: true),
            ])
    }

    private func precisionRecall(_ curves: NoisyCurves) -> Chart {
        var series = [Chart.Series(name: Self.modelName, points: curves.precisionRecall.map { ($0.x, $0.y) }, color: ModelCharts.modelColor)]
        if let rate = curves.positiveRate {
            series.append(
                Chart.Series(
                    name: "no skill (noisy positive rate \(Markup.number(rate, digits: 2)))", points: [(0, rate), (1, rate)],
                    color: ModelCharts.referenceColor, dashed: true))
        }
        return Chart(
            title: "Precision–recall — AP \(estimateText("average_precision"))", subtitle: Self.label,
            x: .init(label: "recall", domain: 0...1), y: .init(label: "precision", domain: 0...1), series: series)
    }

    private func calibration(_ curves: NoisyCurves, sigma: Double, title: String, x: String, y: String) -> Chart {
        let minimum = Self.reliableExamples(sigma: sigma)
        var (reliable, noisy): ([(x: Double, y: Double)], [(x: Double, y: Double)]) = ([], [])
        var (reliableTitles, noisyTitles): ([String], [String]) = ([], [])
        for bin in curves.calibration {
            guard let rate = bin.observedRate else { continue }
            let text =
                "bin \(Markup.number(bin.lower, digits: 2))–\(Markup.number(bin.upper, digits: 2)): observed \(Markup.number(rate, digits: 3)) of \(bin.examples) noisy users"
            if bin.examples >= minimum {
                reliable.append((bin.midpoint, rate))
                reliableTitles.append(text)
            } else {
                noisy.append((bin.midpoint, rate))
                noisyTitles.append(text + " (fewer than \(minimum): mostly noise)")
            }
        }
        return Chart(
            title: title + " — ECE \(estimateText("expected_calibration_error"))", subtitle: Self.label,
            x: .init(label: x, domain: 0...1), y: .init(label: y, domain: 0...1),
            series: [
                Chart.Series(name: "≥ \(minimum) noisy users", points: reliable, color: ModelCharts.modelColor, markers: reliableTitles),
                Chart.Series(
                    name: "< \(minimum) noisy users (hollow: mostly noise)", points: noisy, shape: .points, color: ModelCharts.modelColor,
                    markers: noisyTitles, hollow: true),
                Chart.Series(name: "perfect calibration", points: [(0, 0), (1, 1)], color: ModelCharts.referenceColor, dashed: true),
            ])
    }

    /// Top-1 and top-3 accuracy as bars with their 95% intervals (nil without either estimate).
    private func topKAccuracy() -> Chart? {
        let names = [(1.0, "top1_accuracy", "top-1"), (2.0, "top3_accuracy", "top-3")]
        let shown = names.compactMap { position, name, label in estimate(name).map { (position, label, $0) } }
        guard !shown.isEmpty else { return nil }
        let labels = Dictionary(uniqueKeysWithValues: names.map { ($0.0, $0.2) })
        return Chart(
            title: "Top-k accuracy — top-1 \(estimateText("top1_accuracy")), top-3 \(estimateText("top3_accuracy"))", subtitle: Self.label,
            x: .init(label: "k", domain: 0.4...2.6, ticks: [1, 2]) { labels[$0] ?? "" },
            y: .init(label: "accuracy (95% interval)", domain: 0...1),
            series: [
                Chart.Series(
                    name: "model (noisy counts), 95% interval", points: shown.map { ($0.0, $0.2.value) }, shape: .bars(width: 0.5),
                    color: ModelCharts.modelColor, markers: shown.map { "\($0.1) accuracy \(Markup.number($0.2.value, digits: 3))" },
                    intervals: shown.map { $0.2.interval })
            ])
    }
}
