import ArgumentParser
import Foundation
import VeilLedger
import VeilRuntime

struct BudgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract: "Show the dataset's privacy budget: cap, spent, remaining, per principal, and each spend.",
        discussion: """
            "spent" is the ε of all releases composed at the policy's δ with the policy's accountant \
            (privacy.accountant: pld or rdp; not a sum: composition is sublinear). Each spend's own ε is \
            what it was charged when it was made. Spends are never refunded.

            Example:
              veil budget --json
            """
    )

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let status = try await service.withContext { try await $0.budget.status() }
        if output.json {
            try Output.json(status)
            return
        }
        for line in Self.text(status) { print(line) }
    }

    /// The status as the terminal shows it: every ε in one format (`EpsilonFormat`), the principals
    /// and the spends as tables.
    static func text(_ status: BudgetStatus) -> [String] {
        let epsilon = EpsilonFormat(
            [status.totalEpsilon, status.maxEpsilonPerRequest, status.spentEpsilon, status.remainingEpsilon]
                + status.principals.flatMap { [$0.spentEpsilon] + ($0.capEpsilon.map { [$0] } ?? []) }
                + status.spends.flatMap { [$0.epsilon, $0.cumulativeEpsilon] })
        var lines = [
            "dataset    \(status.dataset)   (δ = \(status.delta), \(status.accountant.kind.rawValue.uppercased()) accountant)",
            "cap        ε = \(epsilon(status.totalEpsilon))   (at most \(epsilon(status.maxEpsilonPerRequest)) per request)",
            "spent      ε = \(epsilon(status.spentEpsilon))",
            "remaining  ε = \(epsilon(status.remainingEpsilon))",
        ]
        if !status.principals.isEmpty {
            var table = TextTable([("principal", .left), ("role", .left), ("spent ε", .right), ("cap ε", .right)])
            for principal in status.principals {
                table.append([principal.principal, principal.role, epsilon(principal.spentEpsilon), principal.capEpsilon.map(epsilon.callAsFunction) ?? "-"])
            }
            lines += [""] + table.lines
        }
        if !status.spends.isEmpty {
            var table = TextTable([
                ("#", .right), ("time", .left), ("principal", .left), ("purpose", .left), ("mechanism", .left), ("ε", .right),
                ("cumulative ε", .right),
            ])
            for spend in status.spends {
                table.append([
                    "\(spend.id)", spend.time, spend.principal, spend.purpose, spend.mechanism.name, epsilon(spend.epsilon),
                    epsilon(spend.cumulativeEpsilon),
                ])
            }
            lines += [""] + table.lines
        }
        return lines
    }}
