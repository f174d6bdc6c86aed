import Foundation
import VeilLedger

/// The privacy budget over time as a chart: cumulative ε (composed by the ledger's accountant) after
/// each spend as a step line, each spend a point whose `<title>` names its id, purpose, principal and
/// ε, and the dataset's cap as a dashed line.
public enum BudgetChart {
    public static func chart(_ status: BudgetStatus) -> Chart {
        let times = status.spends.map { Self.seconds($0.time) }
        var points: [(x: Double, y: Double)] = []
        var titles: [String] = []
        for (spend, time) in zip(status.spends, times) {
            points.append((time, spend.cumulativeEpsilon))
            titles.append(
                "#\(spend.id) \(spend.purpose) — ε \(Markup.number(spend.epsilon)) by \(spend.principal) (\(spend.role)) at \(spend.time); cumulative ε \(Markup.number(spend.cumulativeEpsilon))"
            )
        }
        let first = times.min() ?? Date().timeIntervalSince1970
        let last = times.max() ?? first
        // A margin of 5 % each side (half a minute when every spend is at one time).
        let pad = last - first < 1 ? 30 : (last - first) * 0.05
        let xDomain = (first - pad)...(last + pad)
        let top = max(status.totalEpsilon, status.spends.map(\.cumulativeEpsilon).max() ?? 0) * 1.1
        let span = xDomain.upperBound - xDomain.lowerBound
        return Chart(
            title: "Cumulative ε of \(status.dataset) against its cap",
            x: .init(label: "time (UTC)", domain: xDomain) { Self.tickLabel($0, span: span) },
            y: .init(label: "cumulative ε", domain: 0...(top > 0 ? top : 1)),
            series: [
                Chart.Series(name: "cumulative ε", points: points, shape: .step, color: ModelCharts.modelColor, markers: titles),
                Chart.Series(
                    name: "cap ε = \(Markup.number(status.totalEpsilon))",
                    points: [(xDomain.lowerBound, status.totalEpsilon), (xDomain.upperBound, status.totalEpsilon)],
                    color: "#c0392b", dashed: true),
            ])
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
