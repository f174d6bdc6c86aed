import ArgumentParser
import Foundation
import VeilCrypto
import VeilLedger
import VeilRuntime

struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Maintain the data directory's database.",
        subcommands: [Recover.self]
    )

    struct Recover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild the audit chain and the budget ledger of a database that is behind audit.log.",
            discussion: """
                When the database is empty, missing or older than <data-dir>/audit.log (restored from a \
                backup, emptied, deleted), every command refuses to open the data directory: a fresh \
                ledger would un-spend privacy budget. This command verifies audit.log with the key set's \
                audit key (chain and signatures), copies the records the database lacks into it, and gives \
                every budget.spend record among them its ledger row, so the budget spent stays spent. The \
                events of a lost database cannot be recovered (re-ingest them; event ids make that \
                idempotent); tokens, models and settings recorded only in the lost database must be issued, \
                trained or loaded again. A database that is not behind the log is left as it is.

                Example:
                  veil db recover --data-dir veil-data --keys keys
                """
        )

        @OptionGroup var keys: KeyOptions
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let ring = try KeyRing.load(directory: keys.keysDirectory)
            let (report, opened) = try await OpenedDataDirectory.recover(
                directory: data.dataDirectory, keys: ring, clock: .system, actor: "cli")
            await opened.close()
            if output.json {
                try Output.json(report)
            } else if report.recordsAdopted == 0 {
                print("nothing to recover: the database's chain ends at seq \(report.toSeq), as audit.log does or beyond it")
            } else {
                print("recovered records \(report.fromSeq + 1)…\(report.toSeq) from \(opened.mirror.path): \(report.spendsRestored) spends restored to the ledger")
                print("events stored only in the lost database are gone: ingest them again (event ids keep that idempotent)")
            }
        }
    }
}
