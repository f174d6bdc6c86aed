import ArgumentParser
import Foundation
import VeilCore
import VeilReport

/// `veil report model ID --out card.html` and `veil report budget --out budget.html`: the reviewer's
/// documents as self-contained HTML (inline SVG and CSS, no script) for the review file.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a model card or the privacy budget as a self-contained HTML file (inline SVG, no script).",
        discussion: """
            The file opens offline in any browser and prints as it shows: the same card and budget the \
            console (/console of `veil serve`) shows, with every value escaped. Reading spends no budget. \
            The file is replaced atomically; the metrics in a card are computed on protected users and are \
            not covered by ε — keep the report with the review, do not publish it.

            Examples:
              veil report model 0123456789abcdef0123456789abcdef --out card.html
              veil report budget --out budget.html
            """,
        subcommands: [Model.self, Budget.self]
    )

    /// `--out FILE` and `--json`, shared by both reports.
    struct Destination: ParsableArguments {
        @Option(help: ArgumentHelp("The HTML file to write (replaced if present).", valueName: "file"))
        var out: String
        @OptionGroup var output: OutputOptions

        /// Writes `html` to `--out` atomically and says where (a line, or `{"path", "bytes"}` with --json).
        func write(_ html: String) throws {
            let data = Data(html.utf8)
            do {
                try data.write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw VeilError(.unavailable, field: "--out", "cannot write the report file \(out)")
            }
            if output.json {
                try Output.json(["path": JSONValue.string(out), "bytes": .int(Int64(data.count))])
            } else {
                print("wrote \(out) (\(data.count) bytes)")
            }
        }
    }

    struct Model: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one model's card: registry state and review, privacy, metrics beside baselines, ROC, precision–recall and calibration plots, features, hyperparameters.",
            discussion: "Example:\n  veil report model MODEL_ID --out card.html")
        @Argument(help: ArgumentHelp("The model id, or a unique prefix of it (at least 4 hex characters, as git's).", valueName: "id"))
        var id: String
        @OptionGroup var service: ServiceOptions
        @OptionGroup var destination: Destination

        func run() async throws {
            let description = try await service.withContext { try await $0.models.describe(id: try await $0.models.resolve(id)) }
            try destination.write(ReportDocument.modelDocument(description))
        }
    }

    struct Budget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the privacy budget: cap, spent, remaining, cumulative ε over time against the cap, per principal, every spend.",
            discussion: "Example:\n  veil report budget --out budget.html")
        @OptionGroup var service: ServiceOptions
        @OptionGroup var destination: Destination

        func run() async throws {
            let status = try await service.withContext { try await $0.budget.status() }
            try destination.write(ReportDocument.budgetDocument(status))
        }
    }
}
