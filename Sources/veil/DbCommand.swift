import ArgumentParser
import Foundation
import VeilCrypto
import VeilLedger
import VeilRuntime

struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Maintain the store: apply migrations, show the schema version, recover a database behind audit.log.",
        discussion: """
            The store is --database-url (env VEIL_DATABASE_URL): SQLite in the data directory by default, \
            or a PostgreSQL database shared by several `veil serve` replicas. SQLite migrates itself when a \
            command opens it; PostgreSQL only by `veil db migrate`, and every other command refuses a \
            schema that is not this build's. A password in the URL is never printed.
            """,
        subcommands: [Migrate.self, Status.self, Recover.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply every migration the store lacks (idempotent; safe to run from several replicas at once).",
            discussion: """
                Example:
                  VEIL_DATABASE_URL=postgresql://veil@db.internal:5432/veil veil db migrate --json
                """
        )

        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = try await StoreAdministration.migrate(try data.databaseURL(), dataDirectory: data.dataDirectory)
            if output.json {
                try Output.json(report)
            } else if report.applied.isEmpty {
                print("\(report.location) is up to date (schema version \(report.version.map(String.init) ?? "none")).")
            } else {
                let versions = report.applied.map(String.init).joined(separator: ", ")
                print("\(report.location): applied migration\(report.applied.count == 1 ? "" : "s") \(versions); schema version \(report.version.map(String.init) ?? "none").")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the store's schema version and the one this build needs; exit status 1 when they differ.",
            discussion: """
                Example:
                  veil db status --database-url postgresql:///veil?host=/run/postgresql --json
                """
        )

        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = try await StoreAdministration.status(try data.databaseURL(), dataDirectory: data.dataDirectory)
            if output.json {
                try Output.json(report)
            } else {
                let have = report.version.map { "schema version \($0)" } ?? "no Veil schema"
                print("\(report.backend) \(report.location): \(have); this build needs \(report.needed)")
                if !report.isCurrent { print("run `veil db migrate` to bring it up to date") }
            }
            if !report.isCurrent { throw ExitCode(1) }
        }
    }

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
                directory: data.dataDirectory, database: try data.databaseURL(), keys: ring, clock: .system, actor: "cli")
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
