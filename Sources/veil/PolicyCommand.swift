import ArgumentParser
import VeilCore
import VeilPolicy

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Check policy files.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy file; print OK and its hash, or every problem (exit status 1).",
            discussion: """
                The hash is the lowercase hex BLAKE2b-256 of the file's bytes; audit records and models \
                name the policy by it. Each problem names the dotted key, the rule and the line.

                Example:
                  veil policy check policies/strict.yaml --json
                """
        )

        @Argument(help: ArgumentHelp("The YAML policy file.", valueName: "file"))
        var file: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let report = PolicyReport(try PolicyLoader.check(path: file))
            if output.json {
                try Output.json(report)
            } else if report.ok {
                print("OK \(report.path)")
                print("hash \(report.hash ?? "")")
            } else {
                for problem in report.problems { print("\(report.path): \(problem.error)") }
                print("FAILED: \(report.problems.count) problem\(report.problems.count == 1 ? "" : "s")")
            }
            if !report.ok { throw ExitCode(1) }
        }
    }
}

/// What `policy check --json` prints.
struct PolicyReport: Encodable {
    let ok: Bool
    let path: String
    let hash: String?
    let problems: [PolicyIssue]

    init(_ check: PolicyCheck) {
        switch check {
        case .valid(let loaded):
            (ok, path, hash, problems) = (true, loaded.path, loaded.hash, [])
        case .invalid(let path, let hash, let issues):
            (ok, self.path, self.hash, problems) = (false, path, hash, issues)
        }
    }
}
