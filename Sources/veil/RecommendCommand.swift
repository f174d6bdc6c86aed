import ArgumentParser
import Foundation
import VeilCore
import VeilModels
import VeilRuntime

/// `veil recommend`: one user's top items from the approved `next_item` model.
struct RecommendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommend",
        abstract: "Recommend items to one user with the approved next_item model (prints the pseudonym, never the ID).",
        discussion: """
            The model reads the user's last events before --at (default now), as at training, and ranks \
            its item vocabulary; "other" is never recommended. --exclude-seen leaves out what the user \
            already bought. Only an approved model serves. As for `veil predict`, a time in the future \
            is refused and stale data is flagged (`freshness.stale` in --json, a warning on stderr).

            --user reads the raw user ID from the first line of stdin (pseudonymised in memory), so it \
            never appears in argv or the shell history.

            Examples:
              veil recommend --pseudonym 5f0c…e1 --k 10 --exclude-seen --json
              printf '%s\\n' "$USER_ID" | veil recommend --user --k 5
            """
    )

    @Option(help: ArgumentHelp("A pseudonym (32 hex characters).", valueName: "pid"))
    var pseudonym: String?
    @Flag(help: "Read a raw user ID from the first line of stdin instead (pseudonymised in memory, not stored).")
    var user = false
    @Option(help: ArgumentHelp("How many items (1 to \(Recommendation.maxK), default 10).", valueName: "k"))
    var k = 10
    @Flag(help: "Leave out items the user already bought.")
    var excludeSeen = false
    @Option(help: ArgumentHelp("Recommend as of this date YYYY-MM-DD or RFC 3339 time (default now).", valueName: "date"))
    var at: String?
    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard user != (pseudonym != nil) else { throw ValidationError("give exactly one of --user or --pseudonym") }
        if let pseudonym, Pseudonym(hex: pseudonym) == nil {
            throw ValidationError("--pseudonym must be 32 lowercase hex characters")
        }
        guard (1...Recommendation.maxK).contains(k) else { throw ValidationError("--k must be between 1 and \(Recommendation.maxK)") }
        if let at { _ = try ServingTime.parse(at, field: "--at") }
    }

    func run() async throws {
        let subject: PredictionSubject
        if user {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw VeilError(.invalidInput, field: "--user", "expected the raw user ID on the first line of stdin")
            }
            try UserID.validate(line, field: "--user")
            subject = .userID(line)
        } else {
            subject = .pseudonym(Pseudonym(hex: pseudonym!)!)
        }
        let time = try at.map { try ServingTime.parse($0, field: "--at") }
        let recommendation = try await service.withContext { context in
            try await context.predictionService().recommend([subject], k: k, excludeSeen: excludeSeen, at: time)[0].get()
        }
        if output.json {
            try Output.json(recommendation)
        } else {
            print("\(recommendation.pseudonym)  next_item  model \(recommendation.modelId)  at \(recommendation.freshness.at)")
            for item in recommendation.items {
                print("\(String(repeating: " ", count: max(0, 4 - String(item.rank).count)))\(item.rank)  \(item.item)  \(String(format: "%.6f", item.score))")
            }
        }
        if let warning = recommendation.freshness.warning { Output.note("warning: \(warning)") }
    }
}
