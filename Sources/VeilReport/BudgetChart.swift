import Foundation
import VeilLedger

/// The privacy budget over time as charts. `chart`: cumulative ε of the dataset (composed by the
/// ledger's accountant) after each spend as a step line, each spend a point whose `<title>` names its
/// id, purpose, principal and ε, and the dataset's cap as a dashed line. `principalsChart`: the same
/// time axis with one step line per principal — their own spends composed — and each principal cap the
/// policy sets as a dashed line in that principal's colour.
public enum BudgetChart {
    public static func chart(_ status: BudgetStatus) -> Chart {
        var points: [(x: Double, y: Double)] = []
        var titles: [String] = []
        for spend in status.spends {
            points.append((seconds(spend.time), spend.cumulativeEpsilon))
            titles.append(title(spend) + "; cumulative ε \(Markup.number(spend.cumulativeEpsilon))")
        }
        let x = timeAxis(status)
        let top = max(status.totalEpsilon, status.spends.map(\.cumulativeEpsilon).max() ?? 0) * 1.1
        return Chart(
            title: "Cumulative ε of \(status.dataset) against its cap", x: x,
            y: .init(label: "cumulative ε", domain: 0...(top > 0 ? top : 1)),
            series: [
                Chart.Series(name: "cumulative ε", points: points, shape: .step, color: ModelCharts.modelColor, markers: titles),
                Chart.Series(
                    name: "cap ε = \(Markup.number(status.totalEpsilon))",
                    points: [(x.domain.lowerBound, status.totalEpsilon), (x.domain.upperBound, status.totalEpsilon)],
                    color: capColor, dashed: true),
            ])
    }

    /// Colours of the principals' lines, in the order `status.principals` lists them (by name), repeated
    /// after the last.
    static let principalColors = ["#1f5fbf", "#d9822b", "#3a9d5d", "#8e5bb5", "#c0392b", "#17a2b8", "#7f6000", "#e377c2"]
    static let capColor = "#c0392b"

    /// Cumulative ε by principal: each principal's spends composed by the ledger's accountant
    /// (`principal_cumulative_epsilon`), as a step line from their first spend to their last.
    public static func principalsChart(_ status: BudgetStatus) -> Chart {
        let x = timeAxis(status)
        var series: [Chart.Series] = []
        var caps: [Chart.Series] = []
        for (index, principal) in status.principals.enumerated() {
            let color = principalColors[index % principalColors.count]
            let spends = status.spends.compactMap { spend in
                spend.principalCumulativeEpsilon.map { (spend: spend, cumulative: $0) }
            }.filter { $0.spend.principal == principal.principal }
            guard !spends.isEmpty else { continue }
            let points = spends.map { (x: seconds($0.spend.time), y: $0.cumulative) }
            let titles = spends.map { title($0.spend) + "; \(principal.principal)'s cumulative ε \(Markup.number($0.cumulative))" }
            series.append(
                Chart.Series(
                    name: "\(principal.principal) (\(principal.role))", points: points, shape: .step, color: color, markers: titles))
            if let cap = principal.capEpsilon {
                caps.append(
                    Chart.Series(
                        name: "\(principal.principal)'s cap ε = \(Markup.number(cap))",
                        points: [(x.domain.lowerBound, cap), (x.domain.upperBound, cap)], color: color, dashed: true))
            }
        }
        let highest = (status.spends.compactMap(\.principalCumulativeEpsilon) + status.principals.compactMap(\.capEpsilon)).max() ?? 0
        return Chart(
            title: "Cumulative ε by principal", x: x, y: .init(label: "cumulative ε (each principal's spends)", domain: 0...(highest > 0 ? highest * 1.1 : 1)),
            series: series + caps)
    }

    /// What a spend's point says: id, purpose, ε, principal and role, time.
    private static func title(_ spend: BudgetStatus.Spend) -> String {
        "#\(spend.id) \(spend.purpose) — ε \(Markup.number(spend.epsilon)) by \(spend.principal) (\(spend.role)) at \(spend.time)"
    }

    /// The time axis of both charts: the spends' times with a margin of 5 % each side (half a minute
    /// when every spend is at one time).
    private static func timeAxis(_ status: BudgetStatus) -> Chart.Axis {
        let times = status.spends.map { seconds($0.time) }
        let first = times.min() ?? Date().timeIntervalSince1970
        let last = times.max() ?? first
        let pad = last - first < 1 ? 30 : (last - first) * 0.05
        let domain = (first - pad)...(last + pad)
        let span = domain.upperBound - domain.lowerBound
        return .init(label: "time (UTC)", domain: domain) { tickLabel($0, span: span) }
    }

    /// Seconds since 1970 of an ISO 8601 time as the ledger writes it (0 when unreadable).
    static func seconds(_ text: String) -> Double {
        if let date = try? Date(text, strategy: .iso8601) { return date.timeIntervalSince1970 }
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return (try? fractional.parse(text))?.timeIntervalSince1970 ?? 0
    }

    /// A tick's time (UTC) as precise as the axis needs: `MM-DD` over days, `MM-DD HH:MM` over hours,
    /// `HH:MM:SS` below.
    static func tickLabel(_ seconds: Double, span: Double) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: seconds))
        let (month, day, hour, minute, second) = (parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
        if span > 4 * 86_400 { return String(format: "%02d-%02d", month, day) }
        if span > 4 * 3_600 { return String(format: "%02d-%02d %02d:%02d", month, day, hour, minute) }
        return String(format: "%02d:%02d:%02d", hour, minute, second)
    }
}
