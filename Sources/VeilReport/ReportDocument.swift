import Foundation
import VeilCore
import VeilLearning
import VeilLedger
import VeilModels

/// The reviewer's documents as HTML: a model card and the budget. Each comes as a **fragment** (one
/// `<article>`, what the console shows) and as a **document** (the fragment in a self-contained page with
/// its stylesheet inline, what `veil report` writes for the review file: no script, no external file).
///
/// Every value from the card, the registry or the ledger is escaped (`Markup.escape`); the fragments use
/// classes only (no `style` attribute), so the console can show them under a Content-Security-Policy
/// without `unsafe-inline`.
public enum ReportDocument {
    // MARK: Model card

    /// The card of one model: state and review, the differentially private plots (`PrivateModelCharts`)
    /// and private metrics with their intervals, the exact plots and metrics beside the baselines when
    /// the card holds them (labelled not for release), privacy (ε, δ, σ, q, C, steps), data window,
    /// hyperparameters, features and notes.
    public static func modelFragment(_ description: ModelDescription) -> String {
        let card = description.card
        let record = description.record
        var out = "<article class=\"report model-card\" data-model-id=\"\(Markup.escape(record.id))\">\n"
        out += "<h2>Model \(Markup.escape(record.id))</h2>\n"
        out += table(
            caption: "Registry",
            rows: [
                ("task", record.task), ("model kind", text(card["model"], "kind")), ("state", record.state.rawValue),
                ("created", text(card["created"])),
                ("reviewer", record.reviewer ?? "—"), ("review note", record.reviewNote ?? "—"),
                ("reviewed", record.reviewedMillis.map { Date(timeIntervalSince1970: Double($0) / 1000).formatted(.iso8601) } ?? "—"),
            ])
        let privateCharts = PrivateModelCharts(card: card)
        if let reason = privateCharts.unavailable {
            out += "<p class=\"no-plots\">No differentially private plots: \(Markup.escape(reason)).</p>\n"
        } else {
            out += "<h3>Plots: \(Markup.escape(PrivateModelCharts.label)), covered by ε</h3>\n"
            out += "<section class=\"plots private-plots\">\n\(privateCharts.charts.map { $0.svg() }.joined(separator: "\n"))\n</section>\n"
        }
        out += privateMetricsTable(card["private_metrics"])
        let exactCharts = ModelCharts(card: card)
        let exactPlots = ModelCharts.names.compactMap { exactCharts.chart(named: $0)?.svg() }
        if !exactPlots.isEmpty {
            out += "<h3>Plots: \(Markup.escape(ModelCharts.label)), for the reviewer only</h3>\n"
            out += "<section class=\"plots exact-plots\">\n\(exactPlots.joined(separator: "\n"))\n</section>\n"
        }
        if card["metrics"] != nil { out += metricsTable(card) }
        out += table(
            caption: "Privacy",
            rows: [
                ("differentially private", text(card["is_private"])), ("ε (released parameters)", text(card["epsilon"])),
                ("target ε", text(card["target_epsilon"])), ("δ", text(card["delta"])),
                ("σ (noise multiplier)", text(card["noise_multiplier"])), ("q (sampling rate)", text(card["sampling_rate"])),
                ("C (clipping norm)", text(card["clipping_norm"])), ("steps", text(card["steps"])), ("epochs", text(card["epochs"])),
                ("expected batch size", text(card["expected_batch_size"])), ("population n", text(card["population"])),
                ("accountant", text(card["accountant"])), ("seeded (tests only: no guarantee)", text(card["seeded"])),
            ])
        out += table(
            caption: "Data window (UTC)",
            rows: [
                ("observation start", text(card["data_window"], "observation_start")), ("cutoff", text(card["data_window"], "cutoff")),
                ("horizon end", text(card["data_window"], "horizon_end")), ("window days", text(card["data_window"], "window_days")),
                ("horizon days", text(card["data_window"], "horizon_days")), ("train users", text(card["train_count"])),
                ("holdout users", text(card["holdout_count"])),
            ])
        out += table(
            caption: "Hyperparameters",
            rows: [
                ("kind", text(card["model"], "kind")), ("hidden sizes", text(card["model"], "hidden_sizes")),
                ("parameters", text(card["model"], "parameter_count")), ("optimizer", text(card["model"], "optimizer")),
                ("learning rate", text(card["model"], "learning_rate")), ("policy hash", text(card["policy_hash"])),
            ])
        out += featuresTable(card["features"])
        if case .array(let notes)? = card["notes"], !notes.isEmpty {
            out += "<h3>Notes</h3>\n<ul class=\"notes\">\n"
            for note in notes { out += "<li>\(Markup.escape(text(note)))</li>\n" }
            out += "</ul>\n"
        }
        return out + "</article>\n"
    }

    /// `modelFragment` as a self-contained page.
    public static func modelDocument(_ description: ModelDescription) -> String {
        document(title: "Veil model card \(description.record.id)", body: modelFragment(description))
    }

    // MARK: Budget

    /// The budget: cap, spent, remaining, the accountant, the charts (the dataset's and by principal), each
    /// principal and each spend.
    public static func budgetFragment(_ status: BudgetStatus) -> String {
        var out = "<article class=\"report budget\">\n<h2>Privacy budget of \(Markup.escape(status.dataset))</h2>\n"
        out += table(
            caption: "Dataset",
            rows: [
                ("cap ε", Markup.number(status.totalEpsilon)), ("spent ε", Markup.number(status.spentEpsilon)),
                ("remaining ε", Markup.number(status.remainingEpsilon)), ("δ", Markup.number(status.delta)),
                ("max ε per request", Markup.number(status.maxEpsilonPerRequest)),
                ("accountant", ModelCard.accountantDescription(status.accountant.kind)),
            ])
        out += "<p class=\"explanation\">Spent ε is the composition of every spend below by the \(Markup.escape(status.accountant.kind.rawValue.uppercased())) accountant at δ = \(Markup.escape(Markup.number(status.delta))), not their sum; `veil audit verify` recomputes it from the signed log.</p>\n"
        out += "<section class=\"plots\">\n\(BudgetChart.chart(status).svg())\n\(BudgetChart.principalsChart(status).svg())\n</section>\n"
        out += grid(
            caption: "Per principal", header: ["principal", "role", "spent ε", "principal cap ε", "role cap ε"],
            rows: status.principals.map {
                [$0.principal, $0.role, Markup.number($0.spentEpsilon), $0.capEpsilon.map { Markup.number($0) } ?? "—",
                 $0.roleCapEpsilon.map { Markup.number($0) } ?? "—"]
            })
        out += grid(
            caption: "Spends", header: ["id", "time", "principal", "role", "purpose", "ε", "cumulative ε"],
            rows: status.spends.map {
                ["\($0.id)", $0.time, $0.principal, $0.role, $0.purpose, Markup.number($0.epsilon), Markup.number($0.cumulativeEpsilon)]
            })
        return out + "</article>\n"
    }

    /// `budgetFragment` as a self-contained page.
    public static func budgetDocument(_ status: BudgetStatus) -> String {
        document(title: "Veil privacy budget of \(status.dataset)", body: budgetFragment(status))
    }

    // MARK: Parts

    /// A page around `body` with the report stylesheet inline: opens offline, needs no script.
    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <title>\(Markup.escape(title))</title>
        <style>\(stylesheet)</style>
        </head>
        <body>
        \(body)<footer>Written by veil report. Every number above comes from the registry, the model card or the ledger; check the budget with <code>veil audit verify</code>.</footer>
        </body>
        </html>

        """
    }

    /// The rules both the reports and the console use for these fragments.
    public static let stylesheet = """
        body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1100px}
        .report table{border-collapse:collapse;margin:0.6em 0 1.2em}
        .report caption{text-align:left;font-weight:bold;padding:0.3em 0}
        .report table.fields{display:inline-table;margin-right:1.5em;vertical-align:top}
        .report th,.report td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}
        .report th{background:#f2f4f7}
        .report .plots{display:flex;flex-wrap:wrap;gap:1em}
        .report .notes li{margin:0.2em 0}
        """

    /// A two-column table of label and value.
    static func table(caption: String, rows: [(String, String)]) -> String {
        var out = "<table class=\"fields\"><caption>\(Markup.escape(caption))</caption>\n"
        for (label, value) in rows { out += "<tr><th scope=\"row\">\(Markup.escape(label))</th><td>\(Markup.escape(value))</td></tr>\n" }
        return out + "</table>\n"
    }

    /// A table with a header row.
    static func grid(caption: String, header: [String], rows: [[String]]) -> String {
        var out = "<table class=\"grid\"><caption>\(Markup.escape(caption))</caption>\n<tr>"
        for name in header { out += "<th scope=\"col\">\(Markup.escape(name))</th>" }
        out += "</tr>\n"
        for row in rows { out += "<tr>" + row.map { "<td>\(Markup.escape($0))</td>" }.joined() + "</tr>\n" }
        if rows.isEmpty { out += "<tr><td colspan=\"\(header.count)\">none</td></tr>\n" }
        return out + "</table>\n"
    }

    /// The private holdout metrics (`private_metrics`), each with its 95% interval, in the order the
    /// histogram's layout lists them; empty when the card has none.
    static func privateMetricsTable(_ evaluation: JSONValue?) -> String {
        guard case .object(let evaluation)? = evaluation, case .object(let metrics)? = evaluation["metrics"] else { return "" }
        let layout: HoldoutHistogram.Layout? =
            if case .string(let name)? = evaluation["histogram"], let bins = evaluation["bins"]?.number {
                HoldoutHistogram.Layout(name: name, bins: Int(bins))
            } else { nil }
        let known = layout?.metricNames ?? []
        let names = known.filter { metrics[$0] != nil } + metrics.keys.filter { !known.contains($0) }.sorted()
        let rows: [[String]] = names.map { name in
            guard case .object(let estimate)? = metrics[name] else { return [name, "—", "—"] }
            let interval =
                if let low = estimate["low"]?.number, let high = estimate["high"]?.number {
                    "[\(Markup.number(low)), \(Markup.number(high))]"
                } else { "—" }
            return [name, text(estimate["value"]), interval]
        }
        var out = grid(
            caption: "Private holdout metrics (differentially private, covered by ε; publish these)",
            header: ["metric", "value", "95% interval"], rows: rows)
        out += table(
            caption: "How they were released",
            rows: [
                ("histogram", text(evaluation["histogram"])), ("bins", text(evaluation["bins"])),
                ("noise σ per count (discrete Gaussian)", text(evaluation["noise_sigma"])),
                ("intervals", text(evaluation["interval_method"])),
            ])
        return out
    }

    /// Every numeric exact metric of the model (nested ones as `at_half.f1`), with each baseline's beside it.
    static func metricsTable(_ card: [String: JSONValue]) -> String {
        var columns: [(String, [String: Double])] = [("model", flatNumbers(card["metrics"]))]
        if case .object(let baselines)? = card["baselines"] {
            for name in baselines.keys.sorted() { columns.append(("baseline \(name)", flatNumbers(baselines[name]))) }
        }
        let names = columns[0].1.keys.sorted()
        return grid(
            caption: "Exact holdout metrics (NOT FOR RELEASE: not covered by ε; for the reviewer)", header: ["metric"] + columns.map(\.0),
            rows: names.map { name in [name] + columns.map { column in column.1[name].map { Markup.number($0) } ?? "—" } })
    }

    /// The numbers in an evaluation (`binary` or `multiclass`), keyed by dotted path; curves left out.
    static func flatNumbers(_ value: JSONValue?, prefix: String = "") -> [String: Double] {
        guard case .object(let object)? = value else { return [:] }
        var numbers: [String: Double] = [:]
        for (key, member) in object where key != "curves" {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let number = member.number {
                numbers[path] = number
            } else if case .object = member {
                // The task kind (`binary`, `multiclass`) is not part of a metric's name.
                numbers.merge(flatNumbers(member, prefix: prefix.isEmpty && (key == "binary" || key == "multiclass") ? "" : path)) { a, _ in a }
            }
        }
        return numbers
    }

    static func featuresTable(_ schema: JSONValue?) -> String {
        guard case .object(let schema)? = schema, case .array(let features)? = schema["features"] else { return "" }
        let rows: [[String]] = features.map { feature in
            guard case .object(let feature) = feature else { return [text(feature), "", ""] }
            return [text(feature["name"]), text(feature["upper"]), text(feature["scaling"])]
        }
        var out = grid(caption: "Features (\(rows.count), in input order)", header: ["name", "public bound", "scaling"], rows: rows)
        if case .array(let categories)? = schema["categories"] {
            out += table(caption: "Categories", rows: [("policy categories", categories.map { text($0) }.joined(separator: ", "))])
        }
        return out
    }

    /// A JSON value as a reader sees it (unescaped: the caller escapes); `—` for absent or null.
    static func text(_ value: JSONValue?, _ key: String? = nil) -> String {
        var value = value
        if let key {
            guard case .object(let object)? = value else { return "—" }
            value = object[key]
        }
        switch value {
        case nil, .null?: return "—"
        case .bool(let flag)?: return flag ? "yes" : "no"
        case .int(let number)?: return String(number)
        case .double(let number)?: return Markup.number(number, digits: 6)
        case .string(let string)?: return string
        case .array(let items)?: return items.isEmpty ? "none" : items.map { text($0) }.joined(separator: ", ")
        case .object?: return "(object)"
        }
    }
}
