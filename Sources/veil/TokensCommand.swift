import ArgumentParser
import Foundation
import VeilCore
import VeilAccess
import VeilRuntime

extension Role: ExpressibleByArgument {}

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Issue, list and revoke the bearer tokens of the HTTP API.",
        discussion: """
            A token carries one role: \(Role.allCases.map(\.rawValue).joined(separator: ", ")). `admin` may call \
            every endpoint. Only a keyed hash of each token is stored; the token is printed once, at issue.
            """,
        subcommands: [Issue.self, List.self, Revoke.self]
    )

    /// The options every tokens subcommand shares: where the keys, data and policy are. Issuing and
    /// revoking are audited, so the audit log is opened too.
    struct Location: ParsableArguments {
        @OptionGroup var service: ServiceOptions

        func withTokens<T>(_ body: (TokenService) async throws -> T) async throws -> T {
            try await service.withContext { try await body($0.tokens) }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it once, alone on the last line (with --json: in the `token` field).",
            discussion: """
                Example:
                  veil tokens issue --role ingest --name storefront
                  TOKEN=$(veil tokens issue --role ingest --name storefront | tail -n 1)
                """
        )

        @Option(help: ArgumentHelp("The token's role.", valueName: "role"))
        var role: Role

        @Option(help: ArgumentHelp("A unique name (1–64 of A–Z a–z 0–9 . _ -); recorded as the actor of its requests.", valueName: "name"))
        var name: String

        @OptionGroup var location: Location
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let issued = try await location.withTokens { try await $0.issue(name: name, role: role, actor: location.service.principal) }
            if output.json {
                try Output.json(issued)
            } else {
                print("Issued token \"\(issued.name)\" with role \(issued.role). It is shown only now: store it in the client's secret store.")
                print(issued.token)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List tokens: name, role, created, revoked (never a token or its hash).",
            discussion: "Example:\n  veil tokens list --json"
        )

        @OptionGroup var location: Location
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let tokens = try await location.withTokens { try await $0.list() }
            if output.json {
                try Output.json(tokens)
                return
            }
            if tokens.isEmpty { print("No tokens. Issue one with `veil tokens issue --role ingest --name NAME`.") }
            let width = max(4, tokens.map(\.name.count).max() ?? 0)
            let dates = ISO8601DateFormatter()
            for token in tokens {
                let state = token.revoked.map { "revoked " + dates.string(from: $0) } ?? "active"
                print(token.name.padding(toLength: width, withPad: " ", startingAt: 0), token.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0), dates.string(from: token.created), state)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token by name; it is refused from then on. The name stays taken.",
            discussion: "Example:\n  veil tokens revoke --name storefront"
        )

        @Option(help: ArgumentHelp("The token's name.", valueName: "name"))
        var name: String

        @OptionGroup var location: Location
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await location.withTokens { try await $0.revoke(name: name, actor: location.service.principal) }
            if output.json {
                try Output.json(["revoked": name])
            } else {
                print("Revoked token \"\(name)\".")
            }
        }
    }
}
