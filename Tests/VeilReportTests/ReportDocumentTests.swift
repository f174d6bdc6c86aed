import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import VeilCore
import VeilLedger
import VeilModels
import VeilPrivacy
import VeilStore
@testable import VeilReport

/// The reports as a reader gets them: parsed as XML (so well-formed), every value escaped, the numbers
/// of the card and the ledger present.
@Suite struct ReportDocumentTests {
    static let hostileNote = "<script>alert(1)</script>"

    /// A binary card as the registry shows it: curves for the model and one baseline, a hostile note.
    static func description(withCurves: Bool = true) throws -> ModelDescription {
        let curves = """
            "curves": {"roc": [{"x": 0, "y": 0}, {"x": 0.25, "y": 0.6}, {"x": 1, "y": 1}],
                       "precision_recall": [{"x": 0.5, "y": 0.9}, {"x": 1, "y": 0.4}],
                       "calibration": [{"mean_predicted": 0.12, "observed_rate": 0.1, "count": 40},
                                       {"mean_predicted": 0.71, "observed_rate": 0.64, "count": 11}]},
            """
        let json = """
            {"task": "purchase", "model": {"kind": "logistic_regression", "hidden_sizes": [], "parameter_count": 31,
             "optimizer": "adam", "learning_rate": 0.05}, "is_private": true, "epsilon": 0.8765, "target_epsilon": 1,
             "delta": 1e-6, "noise_multiplier": 1.37, "sampling_rate": 0.01, "clipping_norm": 1, "steps": 400, "epochs": 4,
             "expected_batch_size": 100, "population": 10000, "accountant": "PLD", "seeded": false,
             "data_window": {"cutoff": "2026-04-17T00:00:00Z", "horizon_end": "2026-05-01T00:00:00Z", "horizon_days": 14},
             "features": {"features": [{"name": "count_view", "upper": 500, "scaling": "log_count"},
                                       {"name": "spend\(Self.hostileNote)", "upper": 2000, "scaling": "linear"}],
                          "categories": ["books", "toys"]},
             "metrics": {"binary": {\(withCurves ? curves : "") "roc_auc": 0.7312, "log_loss": 0.402,
                         "at_half": {"f1": 0.333, "threshold": 0.5}}},
             "baselines": {"base_rate": {"binary": {"roc_auc": 0.5, "log_loss": 0.47,
                            "curves": {"roc": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "precision_recall": [], "calibration": []}}}},
             "train_count": 8000, "holdout_count": 2000, "policy_hash": "abc", "notes": ["\(Self.hostileNote)"],
             "model_id": "0123456789abcdef0123456789abcdef", "created": "2026-11-29T10:00:00Z"}
            """
        let card = try JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))
        var record = ModelRecord(
            id: "0123456789abcdef0123456789abcdef", task: "purchase", isPrivate: true, epsilon: 0.8765, createdMillis: 1_700_000_000_000)
        record.reviewNote = Self.hostileNote
        record.reviewer = "rita\"<b>"
        return ModelDescription(record: record, card: card)
    }

    /// `private_metrics` as a private run stores it: the noisy histogram of `NoisyCurvesTests` (20 score
    /// bins; clamped N = 8, P = 6) with noise σ = 0.3, so a calibration bin needs 3 noisy users to be
    /// drawn filled.
    static let binaryPrivateMetrics = """
        {"histogram": "binary_score_histogram", "bins": 20, "noise_sigma": 0.3, "replicates": 400, "interval_method": "bootstrap",
         "noisy_counts": [0, 0, 5, -2, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 4, 0, 0, 0, 2],
         "metrics": {"roc_auc": {"value": 0.9375, "low": 0.81, "high": 0.99}, "average_precision": {"value": 0.95, "low": 0.8, "high": 1},
                     "expected_calibration_error": {"value": 0.2, "low": 0.1, "high": 0.3}, "example_count": {"value": 11, "low": 8, "high": 14}}}
        """

    /// A card as the registry shows it with `private_metrics` (`binaryPrivateMetrics`), before `ModelCard.shown`.
    static func privateDescription() throws -> ModelDescription {
        var description = try description()
        description.card["private_metrics"] = try JSONDecoder().decode(JSONValue.self, from: Data(binaryPrivateMetrics.utf8))
        return description
    }

    static func budget() throws -> BudgetStatus {
        let mechanism = String(decoding: try JSONEncoder().encode(PrivacyMechanism.laplace(epsilon: 0.5, count: 1)), as: UTF8.self)
        let json = """
            {"dataset": "shop<&>", "accountant": {"accountant": "rdp", "orders": "dp_accounting_default"}, "delta": 1e-6,
             "max_epsilon_per_request": 2, "total_epsilon": 10, "spent_epsilon": 1.25, "remaining_epsilon": 8.75,
             "principals": [{"principal": "ana", "role": "analyst", "spent_epsilon": 1.25, "cap_epsilon": 5}],
             "spends": [
               {"id": 1, "time": "2026-11-20T09:00:00Z", "principal": "ana", "role": "analyst", "purpose": "query count_users",
                "mechanism": \(mechanism), "epsilon": 0.5, "cumulative_epsilon": 0.5, "principal_cumulative_epsilon": 0.5},
               {"id": 2, "time": "2026-11-22T15:30:00Z", "principal": "ana", "role": "analyst", "purpose": "\(Self.hostileNote)",
                "mechanism": \(mechanism), "epsilon": 0.75, "cumulative_epsilon": 1.25, "principal_cumulative_epsilon": 1.25}]}
            """
        return try JSONDecoder().decode(BudgetStatus.self, from: Data(json.utf8))
    }

    /// Parses `text` as XML (the reports are written as well-formed XHTML-style HTML) and returns the
    /// element names and the text content seen.
    static func parse(_ text: String) throws -> (elements: [String], text: String) {
        final class Collector: NSObject, XMLParserDelegate {
            var elements: [String] = []
            var text = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
                elements.append(name)
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        }
        // The doctype is HTML's, not XML's: drop it before parsing.
        let body = text.replacingOccurrences(of: "<!DOCTYPE html>", with: "")
        let parser = XMLParser(data: Data(body.utf8))
        let collector = Collector()
        parser.delegate = collector
        guard parser.parse() else {
            throw VeilError(.invalidInput, field: "report", "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?") at line \(parser.lineNumber)")
        }
        return (collector.elements, collector.text)
    }

    @Test func modelCardIsWellFormedEscapedAndHoldsTheNumbers() throws {
        let html = ReportDocument.modelDocument(try Self.description())
        let parsed = try Self.parse(html)
        #expect(!parsed.elements.contains("script"))
        #expect(!parsed.elements.contains("b"))
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        // The hostile note and reviewer come back as text, character for character.
        #expect(parsed.text.contains(Self.hostileNote))
        #expect(parsed.text.contains("rita\"<b>"))
        for expected in ["0.8765", "1.37", "0.01", "400", "0.7312", "0.402", "0.47", "logistic_regression", "count_view", "2026-04-17T00:00:00Z"] {
            #expect(parsed.text.contains(expected), "missing \(expected)")
        }
        // Three plots, each an <svg> with a title, the calibration points with their counts.
        #expect(parsed.elements.filter { $0 == "svg" }.count == 3)
        #expect(parsed.text.contains("ROC — AUC 0.731"))
        #expect(parsed.text.contains("observed 0.64, 11 users"))
        #expect(parsed.text.contains("baseline base_rate"))
    }

    @Test func aCardWithoutCurvesOrPrivateMetricsSaysSoInsteadOfPlotting() throws {
        let html = ReportDocument.modelDocument(try Self.description(withCurves: false))
        let parsed = try Self.parse(html)
        #expect(!parsed.elements.contains("svg"))
        #expect(parsed.text.contains("No differentially private plots: this card holds no private metrics"))
    }

    /// The SVG of a private plot places the points worked out by hand from the noisy histogram
    /// (`NoisyCurvesTests`): plot area x 62…464, y 48…262 (a subtitle moves the top down to 48).
    @Test func privateROCPlacesTheHandComputedPoints() throws {
        let charts = PrivateModelCharts(card: try Self.privateDescription().card).charts
        try #require(charts.count == 3)
        let roc = charts[0].svg()
        _ = try Self.parse(roc)
        // (FPR 0, TPR 2/6) → (62, 262 − 214/3); (3/8, 1) → (62 + 0.375·402, 48).
        #expect(roc.contains("62,190.67") && roc.contains("212.75,48"))
        #expect(charts.allSatisfy { $0.name.hasSuffix("— differentially private (from noisy counts)") })
        #expect(charts[0].title == "ROC — AUC 0.938 [0.81, 0.99]")
        // Calibration: the bin 0.9–1 holds 2 noisy users (< 3 = 10σ), a hollow ring titled so; the bin 0.7–0.8 (4) is filled.
        let calibration = charts[2].svg()
        #expect(calibration.contains("fill=\"#ffffff\" stroke=\"#1f5fbf\" stroke-width=\"1.5\"><title>bin 0.9–1: observed 1 of 2 noisy users (fewer than 3: mostly noise)</title>"))
        #expect(calibration.contains("<circle cx=\"363.5\" cy=\"48\" r=\"4\" fill=\"#1f5fbf\"><title>bin 0.7–0.8: observed 1 of 4 noisy users</title>"))
        #expect(calibration.contains("&lt; 3 noisy users (hollow: mostly noise)"))
        // The precision–recall plot's no-skill line sits at the noisy positive rate 6/14.
        #expect(charts[1].svg().contains("no skill (noisy positive rate 0.43)"))
    }

    /// Under the default policy a card loses its exact curves (`ModelCard.shown`), and still shows the
    /// three plots, drawn from the noisy counts; where the policy lets a reviewer see the exact curves,
    /// they come after, labelled not for release.
    @Test(arguments: [false, true])
    func theCardShowsThePrivatePlotsUnderEveryPolicy(exactAllowed: Bool) throws {
        var description = try Self.privateDescription()
        var policy = Policy()
        policy.training.exactHoldoutMetrics = exactAllowed
        description.card = ModelCard.shown(description.card, to: .reviewer, policy: policy)
        let html = ReportDocument.modelDocument(description)
        let parsed = try Self.parse(html)
        let privateSection = try #require(html.range(of: "<section class=\"plots private-plots\">"))
        let privatePlots = String(html[privateSection.upperBound...]).components(separatedBy: "</section>")[0]
        #expect(privatePlots.components(separatedBy: "<svg ").count - 1 == 3)
        for title in ["ROC — AUC 0.938 [0.81, 0.99] — differentially private (from noisy counts)", "Precision–recall — AP 0.95 [0.8, 1]",
            "Calibration (10 bins) — ECE 0.2 [0.1, 0.3]"] {
            #expect(parsed.text.contains(title), "missing \(title)")
        }
        #expect(parsed.text.contains("Private holdout metrics") && parsed.text.contains("[0.81, 0.99]"))
        #expect(html.contains("exact-plots") == exactAllowed)
        #expect(parsed.elements.filter { $0 == "svg" }.count == (exactAllowed ? 6 : 3))
        #expect(parsed.text.contains("exact holdout, NOT FOR RELEASE (not covered by ε)") == exactAllowed)
        #expect(parsed.text.contains("0.7312") == exactAllowed, "the exact AUC only where the policy allows it")
    }

    /// A multiclass card shows its private top-1 and top-3 accuracy as bars with their intervals, and the
    /// top class's calibration from the noisy counts.
    @Test func aMulticlassCardShowsTopKBarsWithIntervals() throws {
        var counts = [Int](repeating: 0, count: 40)
        counts[7 * 4] = 6
        counts[7 * 4 + 1] = 2
        counts[7 * 4 + 3] = 2
        let json = """
            {"task": "next_category", "is_private": true, "private_metrics": {"histogram": "top_label_histogram", "bins": 10,
             "noise_sigma": 0.2, "noisy_counts": \(counts), "metrics": {"top1_accuracy": {"value": 0.6, "low": 0.3, "high": 0.85},
             "top3_accuracy": {"value": 0.8, "low": 0.55, "high": 0.95}, "expected_calibration_error": {"value": 0.15}}}}
            """
        let charts = PrivateModelCharts(card: try JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))).charts
        try #require(charts.count == 2)
        let bars = charts[0].svg()
        _ = try Self.parse(bars)
        #expect(charts[0].title == "Top-k accuracy — top-1 0.6 [0.3, 0.85], top-3 0.8 [0.55, 0.95]")
        // Two bars, 0.5 wide around k = 1 and 2 on 0.4…2.6 (62…464: 182.73 px per unit); top-1 rises to 0.6 (y = 262 − 0.6·214).
        #expect(bars.components(separatedBy: "<rect x=").count - 1 == 4, "the background, two bars and the legend's swatch")
        #expect(bars.contains("<rect x=\"125.95\" y=\"133.6\" width=\"91.36\" height=\"128.4\""))
        // The top-1 interval's whisker from 0.3 to 0.85 at k = 1.
        #expect(bars.contains("<line x1=\"171.64\" y1=\"197.8\" x2=\"171.64\" y2=\"80.1\"/>"))
        #expect(bars.contains(">top-1</text>") && bars.contains(">top-3</text>"))
        #expect(charts[1].title == "Top-label calibration (10 bins) — ECE 0.15 (no interval: noise too large)")
        #expect(charts[1].svg().contains("bin 0.7–0.8: observed 0.6 of 10 noisy users"))
    }

    @Test func budgetReportIsWellFormedEscapedAndHoldsEverySpend() throws {
        let html = ReportDocument.budgetDocument(try Self.budget())
        let parsed = try Self.parse(html)
        #expect(!parsed.elements.contains("script"))
        #expect(parsed.text.contains("shop<&>"))
        #expect(html.contains("shop&lt;&amp;&gt;"))
        #expect(parsed.text.contains(Self.hostileNote))
        for expected in ["10", "1.25", "8.75", "query count_users", "2026-11-22T15:30:00Z", "0.75"] {
            #expect(parsed.text.contains(expected), "missing \(expected)")
        }
        // One point per spend in each chart (the dataset's, by principal), each with its purpose as the tooltip.
        #expect(parsed.elements.filter { $0 == "circle" }.count == 4)
        #expect(parsed.text.contains("Cumulative ε by principal") && parsed.text.contains("ana's cap ε = 5"))
        #expect(parsed.text.contains("ana's cumulative ε 1.25"))
        #expect(parsed.text.contains("#1 query count_users — ε 0.5 by ana (analyst)"))
        #expect(parsed.text.contains("cap ε = 10"))
    }

    @Test func chartPlacesPointsOnItsAxes() throws {
        var chart = Chart(
            title: "t", x: .init(label: "x", domain: 0...1), y: .init(label: "y", domain: 0...2),
            series: [Chart.Series(name: "s", points: [(0, 0), (1, 2), (0.5, 1)], color: "#000000", markers: ["a", "b", "c"])])
        chart.width = 478
        chart.height = 412
        let svg = chart.svg()
        _ = try Self.parse(svg)
        // Plot area: x 62…462, y 34…334 (margins 62/16 and 34/78).
        #expect(svg.contains("cx=\"62\" cy=\"334\""))
        #expect(svg.contains("cx=\"462\" cy=\"34\""))
        #expect(svg.contains("cx=\"262\" cy=\"184\""))
        #expect(Chart.ticks(0...1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
    }

    @Test func stepSeriesHoldsTheValueUntilTheNextPoint() {
        let chart = Chart(
            title: "t", x: .init(label: "x", domain: 0...1), y: .init(label: "y", domain: 0...1),
            series: [Chart.Series(name: "s", points: [(0, 0), (1, 1)], shape: .step, color: "#000000")])
        // Corner at (x = 1, y = 0) between the two points.
        #expect(chart.svg().contains("points=\"62,262 464,262 464,34\""))
    }

    @Test func numbersReadWell() {
        #expect(Markup.number(0.87654321) == "0.8765")
        #expect(Markup.number(10) == "10")
        #expect(Markup.number(0.000125) == "0.000125")
        #expect(Markup.number(2.5e-9) == "2.5e-09")
        #expect(Markup.number(1234.5678) == "1235")
        #expect(Markup.escape("a&b<'\">") == "a&amp;b&lt;&#39;&quot;&gt;")
    }
}
