import ArgumentParser
import Foundation

/// The `veil` command line: a thin face over Veil's service layer.
@main
struct Veil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veil",
        abstract: "Privacy-preserving behaviour analytics: pseudonymised events, DP models, a signed budget ledger.",
        discussion: """
            Every command reads its keys from --keys (env VEIL_KEYS, default ./keys), its data from \
            --data-dir (env VEIL_DATA_DIR, default ./veil-data) and its policy from --policy \
            (env VEIL_POLICY, default policies/default.yaml), and its store from --database-url (env \
            VEIL_DATABASE_URL, default veil.sqlite in the data directory). Add --json for machine-readable output. \
            Errors go to stderr with a non-zero exit status. VEIL_KERNELS=baseline or wide caps the \
            instruction set training and scoring use (SSE2 or AVX2; the same results, bit for bit) and \
            avx512 caps nothing; a command that opens keys, policy and data refuses any other value.

            A typical run:
              veil keys init --dir keys    # then move keys/escrow.secret offline
              veil generate --users 1000 --days 60 --seed 1 > events.ndjson
              veil ingest events.ndjson
              veil train --task purchase --epsilon 2
              veil models approve MODEL_ID --note "reviewed"
              veil predict --pseudonym PID --task purchase
              veil query --metric count_users --group-by category --epsilon 0.5
              veil budget
              veil audit verify
            """,
        version: "0.1.0",
        subcommands: [
            KeysCommand.self,
            PseudonymizeCommand.self,
            GenerateCommand.self,
            PolicyCommand.self,
            PrivacyCommand.self,
            AuditCommand.self,
            DbCommand.self,
            BudgetCommand.self,
            StatsCommand.self,
            PushCommand.self,
            IngestCommand.self,
            EraseCommand.self,
            ReidentifyCommand.self,
            TokensCommand.self,
            ServeCommand.self,
            QueryCommand.self,
            TrainCommand.self,
            ModelsCommand.self,
            ReportCommand.self,
            PredictCommand.self,
            RecommendCommand.self,
            ScoreCommand.self,
        ]
    )

    /// Parses and runs as swift-argument-parser's own `main` does, and answers a mistyped command
    /// name with the nearest one (`CommandSuggestion`) instead of the parser's "Unexpected argument".
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if let (typed, nearest) = CommandSuggestion.suggestion(for: Array(CommandLine.arguments.dropFirst()), root: Veil.self) {
                FileHandle.standardError.write(Data("Error: unknown command '\(typed)'. Did you mean '\(nearest)'?\nSee 'veil --help'.\n".utf8))
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: error)
        }
        do {
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
