import ArgumentParser
import Foundation
import VeilRuntime

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "The store's schema: apply migrations, or show where it stands.",
        discussion: """
            The store is --database-url (env VEIL_DATABASE_URL): SQLite in the data directory by default, \
            or a PostgreSQL database shared by several `veil serve` replicas. SQLite migrates itself when a \
            command opens it; PostgreSQL only by `veil db migrate`, and every other command refuses a \
            schema that is not this build's. A password in the URL is never printed.
            """,
        subcommands: [Migrate.self, Status.self]
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
}
