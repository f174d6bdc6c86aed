import ArgumentParser
import Foundation
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
        print("dataset    \(status.dataset)   (δ = \(status.delta), \(status.accountant.kind.rawValue.uppercased()) accountant)")
        print("cap        ε = \(format(status.totalEpsilon))   (at most \(format(status.maxEpsilonPerRequest)) per request)")
        print("spent      ε = \(format(status.spentEpsilon))")
        print("remaining  ε = \(format(status.remainingEpsilon))")
        if !status.principals.isEmpty {
            print("\nper principal")
            for principal in status.principals {
                let cap = principal.capEpsilon.map { " of cap \(format($0))" } ?? ""
                print("  \(principal.principal) (\(principal.role))  ε = \(format(principal.spentEpsilon))\(cap)")
            }
        }
        if !status.spends.isEmpty {
            print("\nspends")
            for spend in status.spends {
                print("  #\(spend.id) \(spend.time)  \(spend.principal)  \(spend.purpose)  \(spend.mechanism.name)  ε = \(format(spend.epsilon))  cumulative \(format(spend.cumulativeEpsilon))")
            }
        }
    }

    private func format(_ value: Double) -> String { String(format: "%.4f", value) }
}
