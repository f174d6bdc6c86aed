import ArgumentParser
import Foundation
import VeilCore
import VeilLearning
import VeilModels
import VeilRuntime

/// `veil predict`: one user's score from the approved model of a task.
struct PredictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score one user with the approved model of a task (prints the pseudonym, never the ID).",
        discussion: """
            Features come from the user's events before --at (default now; a time in the future is \
            refused) over the model's observation window. Only an approved model serves. When the \
            latest stored event is older than that window before --at, the answer says so \
            (`freshness.stale` in --json, a warning on stderr): the data stopped before the time asked \
            for, and the score is that of a user with no recent activity.

            Examples:
              veil predict --user user-000123 --task purchase --json
              veil predict --pseudonym 5f0c…e1 --task churn --at 2026-05-01
            """
    )

    @Option(help: ArgumentHelp("A raw user ID (pseudonymised in memory, not stored).", valueName: "id"))
    var user: String?
    @Option(help: ArgumentHelp("A pseudonym (32 hex characters).", valueName: "pid"))
    var pseudonym: String?
    @Option(help: ArgumentHelp("purchase, churn, next_category or next_item.", valueName: "task"))
    var task: PredictionTask
    @Option(help: ArgumentHelp("Score as of this date YYYY-MM-DD or RFC 3339 time (default now).", valueName: "date"))
    var at: String?
    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (user == nil) != (pseudonym == nil) else { throw ValidationError("give exactly one of --user or --pseudonym") }
        if let pseudonym, Pseudonym(hex: pseudonym) == nil {
            throw ValidationError("--pseudonym must be 32 lowercase hex characters")
        }
        if let at { _ = try ServingTime.parse(at, field: "--at") }
    }

    func run() async throws {
        let time = try at.map { try ServingTime.parse($0, field: "--at") }
        let prediction = try await service.withContext { context in
            let predictor = context.predictionService()
            let prediction =
                if let user { try await predictor.predict(userID: user, task: task, at: time) } else {
                    try await predictor.predict(pseudonym: Pseudonym(hex: pseudonym!)!, task: task, at: time)
                }
            try await predictor.flushCounts(actor: service.principal)  // model.predictions, before the answer is printed
            return prediction
        }
        if output.json {
            try Output.json(prediction)
        } else {
            let category = prediction.category.map { "  category \($0)" } ?? ""
            print("\(prediction.pseudonym)  \(prediction.task)  score \(prediction.score)\(category)  model \(prediction.modelId)  at \(prediction.freshness.at)")
        }
        if let warning = prediction.freshness.warning { Output.note("warning: \(warning)") }
    }
}

/// `veil score`: every user's score to a CSV file.
struct ScoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score every user with the approved model of a task; CSV `pseudonym,score` (next_item: `pseudonym,rank,item,score`).",
        discussion: """
            Users with no event in the model's window before --at are skipped (counted in the summary). \
            For next_item each user gets --k rows, rank 1 first. As for `veil predict`, a time in the \
            future is refused and stale data is flagged (`freshness.stale`, a warning on stderr).

            Examples:
              veil score --task churn --out churn-scores.csv --at 2026-05-01 --json
              veil score --task next_item --k 10 --out recommendations.csv
            """
    )

    @Option(help: ArgumentHelp("purchase, churn, next_category or next_item.", valueName: "task"))
    var task: PredictionTask
    @Option(help: ArgumentHelp("Items per user for next_item (1 to \(Recommendation.maxK), default 10).", valueName: "k"))
    var k = 10
    @Option(help: ArgumentHelp("The CSV file to write (created or truncated).", valueName: "file"))
    var out: String
    @Option(help: ArgumentHelp("Score as of this date YYYY-MM-DD or RFC 3339 time (default now).", valueName: "date"))
    var at: String?
    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...Recommendation.maxK).contains(k) else { throw ValidationError("--k must be between 1 and \(Recommendation.maxK)") }
        if let at { _ = try ServingTime.parse(at, field: "--at") }
    }

    func run() async throws {
        let time = try at.map { try ServingTime.parse($0, field: "--at") }
        guard FileManager.default.createFile(atPath: out, contents: nil) else {
            throw VeilError(.invalidInput, field: "--out", "cannot create \(out)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        defer { try? handle.close() }
        let terminal = isatty(2) == 1
        let summary = try await service.withContext { context in
            let predictor = context.predictionService()
            let summary = try await predictor.score(
                task: task, k: k, at: time, principal: service.principal,
                write: { handle.write(Data($0.utf8)) },
                progress: { users in
                    if terminal { FileHandle.standardError.write(Data("\rscoring: \(users) users".utf8)) }
                })
            try await predictor.flushCounts(actor: service.principal)  // model.predictions, as predict and serve write them
            return summary
        }
        try handle.synchronize()
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        if output.json {
            try Output.json(summary)
        } else {
            print("scored \(summary.scored) users with model \(summary.modelId) as of \(summary.freshness.at) (\(summary.skipped) without events in the window) → \(out)")
        }
        if let warning = summary.freshness.warning { Output.note("warning: \(warning)") }
    }
}
