import ArgumentParser

/// The `veil` command line: a thin face over Veil's service layer.
@main
struct Veil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "veil",
        abstract: "Privacy-preserving behaviour analytics: pseudonymised events, DP models, a signed budget ledger.",
        discussion: """
            Every command reads its keys from --keys (env VEIL_KEYS, default ./keys), its data from
            --data-dir (env VEIL_DATA_DIR, default ./veil-data) and its policy from --policy
            (env VEIL_POLICY, default policies/default.yaml). Add --json for machine-readable output.
            Errors go to stderr with a non-zero exit status.

            Start with:
              veil keys init --dir keys
              veil pseudonymize alice@example.com
            """,
        version: "0.1.0",
        subcommands: [
            KeysCommand.self,
            PseudonymizeCommand.self,
            GenerateCommand.self,
            PolicyCommand.self,
            PrivacyCommand.self,
            AuditCommand.self,
            BudgetCommand.self,
            PushCommand.self,
            IngestCommand.self,
            EraseCommand.self,
            ReidentifyCommand.self,
            TokensCommand.self,
            ServeCommand.self,
            QueryCommand.self,
            TrainCommand.self,
            ModelsCommand.self,
            PredictCommand.self,
            ScoreCommand.self,
        ]
    )
}
