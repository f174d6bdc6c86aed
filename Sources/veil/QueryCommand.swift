import ArgumentParser
import Foundation
import VeilCore
import VeilQueries
import VeilRuntime

/// `veil query`: one differentially private aggregate, paid for from the budget before data is read.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run a differentially private aggregate query (spends privacy budget), or --explain it (spends nothing).",
        discussion: """
            Metrics: count_events, count_users, sum, mean, histogram, quantile. Values (sum, mean, \
            histogram, quantile): revenue, quantity (per purchase), order_value, basket_size (per order = \
            a user's purchases in one session). Group-by: type, category, day, week, hour_of_day, weekday \
            (day and week need --from and --to). Each user contributes to at most max_groups_per_user \
            groups and max_contributions_per_group times per group (a uniform sample); values are clamped \
            to the policy's value_bounds (or --lower/--upper). The answer states the sensitivity, the noise \
            and a 95% interval for each value. Categories not in the policy list appear only if enough \
            users hold them (DP partition selection). docs/queries.md explains how to read the output.

            --explain prints, before spending anything, what the query would cost in the ledger, the \
            noise sd and 95% interval half-width of each release, and where the contribution bounds or \
            the clamp can bias the answer. It reads no event and spends nothing.

            Examples:
              veil query --metric count_users --group-by category --epsilon 0.5
              veil query --metric sum --value revenue --group-by day --from 2026-11-02 --to 2026-11-08 \\
                --where category=books --epsilon 1 --mechanism gaussian --json
              veil query --metric quantile --value order_value --quantile 0.5 --epsilon 0.5
              veil query --metric mean --value revenue --group-by weekday --epsilon 0.5 --explain
            """
    )

    @Option(help: ArgumentHelp("count_events, count_users, sum, mean, histogram or quantile.", valueName: "metric"))
    var metric: String
    @Option(help: ArgumentHelp("revenue, quantity, order_value or basket_size.", valueName: "value"))
    var value: String?
    @Option(name: .customLong("group-by"), help: ArgumentHelp("type, category, item, day, week, hour_of_day or weekday.", valueName: "key"))
    var groupBy: String?
    @Option(name: .customLong("where"), help: ArgumentHelp("Filters: type=purchase,category=books (keys may repeat).", valueName: "filters"))
    var filter: String?
    @Option(help: ArgumentHelp("Start: YYYY-MM-DD (UTC) or an RFC 3339 timestamp; inclusive.", valueName: "date"))
    var from: String?
    @Option(help: ArgumentHelp("End: YYYY-MM-DD (that day included) or an RFC 3339 timestamp (exclusive).", valueName: "date"))
    var to: String?
    @Option(help: ArgumentHelp("Histogram/quantile bin edges, increasing: 0,10,50,100.", valueName: "edges"))
    var bins: String?
    @Option(help: ArgumentHelp("The quantile to estimate, in (0, 1).", valueName: "q"))
    var quantile: Double?
    @Option(help: ArgumentHelp("Lower clamping bound for the value (default: policy).", valueName: "x"))
    var lower: Double?
    @Option(help: ArgumentHelp("Upper clamping bound for the value (default: policy).", valueName: "x"))
    var upper: Double?
    @Option(help: ArgumentHelp("The ε to spend (> 0, at most the policy's max_epsilon_per_request).", valueName: "epsilon"))
    var epsilon: Double
    @Option(help: ArgumentHelp("laplace (pure ε, default) or gaussian ((ε, δ) at the policy's δ).", valueName: "name"))
    var mechanism: String?
    @Flag(help: "Print the cost, each release's noise and 95% interval, and bias warnings, then stop (reads no event, spends nothing).")
    var explain = false
    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    /// The role the command line acts as in the ledger (the principal is `--as`).
    static let role = Role.analyst

    func validate() throws {
        if let bins { _ = try Self.parseBins(bins) }
        if let filter {
            do { _ = try QueryFilter.parse(filter) } catch { throw ValidationError("--where: \(error.message)") }
        }
    }

    /// The query the options describe (the same fields as `POST /v1/queries`).
    func spec() throws -> QuerySpec {
        QuerySpec(
            metric: metric, value: value, groupBy: groupBy, filter: try filter.map { try QueryFilter.parse($0) } ?? QueryFilter(),
            from: from, to: to, bins: try bins.map(Self.parseBins), quantile: quantile, lower: lower, upper: upper,
            epsilon: epsilon, mechanism: mechanism)
    }

    static func parseBins(_ text: String) throws -> [Double] {
        let edges = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard edges.count >= 2, edges.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--bins must be at least two comma-separated numbers, e.g. 0,10,50,100")
        }
        return edges.map { $0! }
    }

    func run() async throws {
        let spec = try spec()
        let (json, explain, principal) = (output.json, self.explain, service.principal)
        print(
            try await service.withContext {
                try await Self.execute(spec, service: $0.queryService(), principal: principal, json: json, explain: explain)
            },
            terminator: "")
    }

    /// Runs `spec` through `service` as `principal` — or, with `explain`, explains it, spending
    /// nothing — and returns what the command prints.
    static func execute(
        _ spec: QuerySpec, service: QueryService, principal: String = Principal.defaultCLIName, json: Bool, explain: Bool = false
    ) async throws -> String {
        if explain {
            let explanation = try service.explain(spec)
            return json ? try Output.jsonText(explanation) : QueryText.render(explanation)
        }
        let answer = try await service.run(spec, principal: principal, role: role)
        return json ? try Output.jsonText(answer) : QueryText.render(answer)
    }
}

/// The human-readable form of a query answer.
enum QueryText {
    static func render(_ answer: QueryAnswer) -> String {
        var lines: [String] = []
        let query = answer.query
        lines.append(title(query))
        let epsilon = EpsilonFormat([answer.epsilon, answer.budget.epsilon, answer.budget.remainingEpsilon])
        lines.append(
            "privacy: \(answer.mechanism), ε = \(epsilon(answer.epsilon)), δ = \(answer.delta); ledger charged ε = \(epsilon(answer.budget.epsilon)), "
                + "\(epsilon(answer.budget.remainingEpsilon)) of the dataset's budget remains")
        lines += noiseLines(
            answer.bounding, answer.sensitivity, answer.partitionSelection, intervalMethod: answer.intervalMethod)
        lines.append("")
        var rows: [(key: String, estimate: QueryAnswer.Estimate)] = []
        for group in answer.groups {
            let key = group.source == "selected" ? group.key + " *" : group.key
            if let bins = group.bins, query.metric == "histogram" {
                rows += bins.map { ("\(key) [\(format($0.lower)), \(format($0.upper)))", $0.estimate) }
            } else if let estimate = group.estimate {
                rows.append((key, estimate))
            }
        }
        lines += table(rows)
        if answer.groups.contains(where: { $0.source == "selected" }) {
            lines.append("* key found in the data and released by partition selection")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The human-readable form of a query explanation.
    static func render(_ explanation: QueryExplanation) -> String {
        let epsilon = EpsilonFormat([explanation.epsilon, explanation.ledgerEpsilon])
        var lines = [
            "explain: \(title(explanation.query)) — nothing read, nothing spent",
            "privacy: \(explanation.mechanism), ε = \(epsilon(explanation.epsilon)), δ = \(explanation.delta); the ledger would charge ε = "
                + "\(epsilon(explanation.ledgerEpsilon)) (\(explanation.accountant) accountant)",
        ]
        lines += noiseLines(
            explanation.bounding, explanation.sensitivity, explanation.partitionSelection,
            intervalMethod: explanation.intervalMethod)
        lines.append("")
        lines.append(pad("part", 12) + pad("numbers", 10) + pad("noise sd", 14) + pad("95% ±", 14) + "each number is")
        for release in explanation.releases {
            lines.append(
                pad(release.part, 12) + pad(release.count.map(String.init) ?? "-", 10) + pad(format(release.noiseSD), 14)
                    + pad(format(release.halfWidth95) + (release.exact ? "" : " ~"), 14) + release.releases)
        }
        if explanation.releases.contains(where: { !$0.exact }) { lines.append("~ normal approximation (1.96 sd)") }
        if !explanation.warnings.isEmpty {
            lines.append("")
            lines.append("warnings:")
            for warning in explanation.warnings { lines.append("  \(warning.code) (\(warning.field)): \(warning.message)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func title(_ query: QuerySpec) -> String {
        var title = query.metric
        if let value = query.value { title += " of \(value)" }
        if let q = query.quantile { title = "quantile \(format(q)) of \(query.value ?? "")" }
        if let groupBy = query.groupBy { title += " by \(groupBy)" }
        if !query.filter.isEmpty { title += " where \(query.filter.text)" }
        if query.from != nil || query.to != nil { title += " from \(query.from ?? "the start") to \(query.to ?? "now")" }
        return title
    }

    /// The bounding, sensitivity, noise, selection and interval lines an answer and an explanation share.
    static func noiseLines(
        _ bounding: QueryAnswer.Bounding, _ sensitivity: [QueryAnswer.Sensitivity], _ selection: QueryAnswer.PartitionSelection?,
        intervalMethod: String
    ) -> [String] {
        var text = "bounding: ≤ \(bounding.maxGroupsPerUser) group(s) per user, ≤ \(bounding.maxContributionsPerGroup) contribution(s) per group"
        if let lower = bounding.lower, let upper = bounding.upper { text += ", values clamped to [\(format(lower)), \(format(upper))]" }
        var lines = [text]
        for part in sensitivity {
            lines.append(
                "sensitivity (\(part.part)): L1 = \(format(part.l1)), L2 = \(format(part.l2)); \(part.noise) noise, scale \(format(part.noiseScale))")
        }
        if let selection {
            lines.append("partition selection: \(selection.method); threshold \(selection.threshold) users, δ = \(selection.delta)")
        }
        lines.append("intervals: \(intervalMethod)")
        return lines
    }

    /// The answer's table: one row per group (or bin), each number column in one format.
    static func table(_ rows: [(key: String, estimate: QueryAnswer.Estimate)]) -> [String] {
        let estimates = rows.map(\.estimate)
        let value = ColumnNumberFormat(estimates.compactMap(\.value))
        let interval = ColumnNumberFormat(estimates.flatMap { [$0.low, $0.high] })
        let noise = ColumnNumberFormat(estimates.compactMap(\.noiseSD))
        var table = TextTable([("group", .left), ("value", .right), ("95% interval", .right), ("noise sd", .right)])
        for (key, estimate) in rows {
            table.append([
                key, estimate.value.map(value.callAsFunction) ?? "n/a",
                "[\(interval(estimate.low)), \(interval(estimate.high))]", estimate.noiseSD.map(noise.callAsFunction) ?? "n/a",
            ])
        }
        return table.lines
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value).replacingOccurrences(of: "e+", with: "e")
    }
}
