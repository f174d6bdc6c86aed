import ArgumentParser
import Foundation
import VeilIngest
import VeilRuntime

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the operator's exact event statistics (not differentially private; audited).",
        discussion: """
            Per UTC day: the events and distinct pseudonyms stored, in all and per event type; the \
            earliest and latest stored event and the database's size. The counts are exact — \
            operational statistics for whoever runs Veil, not a differentially private release — so \
            analysts use `veil query` instead, and every read is written to the audit log \
            (`stats.read`, actor `cli`) before anything is printed. It spends no privacy budget.

            Who may run it: the operator, i.e. whoever can open the data directory (mode 0700) and \
            its keys — the command line has no tokens and acts as role admin. Over HTTP the same \
            numbers are `GET /v1/stats`, for admin tokens only.

            Example:
              veil stats
              veil stats --json --data-dir /srv/veil-data
            """
    )

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let report = try await service.withContext { try await $0.operatorStatistics().read(actor: "cli") }
        if output.json {
            try Output.json(report)
            return
        }
        for line in Self.text(report) { print(line) }
    }

    /// The report as the terminal shows it: the label, the totals, then one table row per day and
    /// one per type of the day.
    static func text(_ report: OperatorStatisticsReport) -> [String] {
        var lines = [
            report.notice,
            "",
            "events      \(TextTable.count(report.events))",
            "pseudonyms  \(TextTable.count(report.pseudonyms))",
            "stored      " + (report.firstEvent.map { "\($0) … \(report.lastEvent ?? $0)" } ?? "no events"),
            "database    \(TextTable.bytes(report.databaseBytes)) (\(TextTable.count(report.databaseBytes)) bytes)",
            "audited     stats.read, record #\(report.auditSeq)",
        ]
        guard !report.days.isEmpty else { return lines }
        var table = TextTable([("date", .left), ("type", .left), ("events", .right), ("pseudonyms", .right)])
        for day in report.days {
            table.append([day.date, "all", TextTable.count(day.events), TextTable.count(day.pseudonyms)])
            for (type, tally) in day.types.sorted(by: { $0.key < $1.key }) {
                table.append(["", type, TextTable.count(tally.events), TextTable.count(tally.pseudonyms)])
            }
        }
        lines.append("")
        lines += table.lines
        return lines
    }
}
