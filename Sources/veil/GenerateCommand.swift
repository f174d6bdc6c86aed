import VeilCore
import ArgumentParser
import Foundation
import VeilSynth

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write synthetic shopper events (NDJSON) from a documented generative model.",
        discussion: """
            SYNTHETIC TEST DATA: user IDs such as user-000123 are made-up raw IDs, not pseudonyms.

            The model (docs/synthetic-data.md has every formula and parameter): each user has latent \
            traits, activity z_a and purchase propensity z_p (correlated standard normals), a session rate \
            r = 0.12·exp(0.75·z_a) per day, a churn hazard h (lower for engaged, buying users) and category \
            affinities (Dirichlet). Sessions arrive as a Poisson process with a weekly and daily rhythm and \
            a busier or quieter multiplier each week, until the churn time C ~ Exponential(h), after which \
            the user never returns. A session may start with a search, views items (mostly in one \
            category), adds some to the cart (more often for high z_p), may check out and purchase; \
            purchases lead to returns and reviews in later sessions.

            Items: 1,000 per category with long-tailed (Zipf) popularity, in product lines of 10 related \
            items; lines hold main items and their accessories, or consumables. Within a session a shopper \
            walks between related items; across sessions they revisit items they viewed (so viewed items \
            are bought later more often), look at accessories of main items they bought and buy \
            consumables again. --catalog FILE writes the public catalogue (item_id,category).

            Output: one JSON event per line, grouped by user; each user's events are in timestamp order \
            (the file is not globally time-sorted). No event is at or after start + days. The same options \
            give the same bytes.

            --truth FILE writes one CSV row per user with the exact probabilities, given the latent traits \
            and whether the user is still active at --truth-cutoff, of at least one purchase (p_purchase) \
            and of no event at all (p_no_event) in the --truth-horizon-days days from the cutoff, and the \
            --truth-top-k items most likely to be the first one the user views from the cutoff on, with \
            their probabilities (next_item_r, p_next_item_r): the ceiling of Recall@K and NDCG@K. Beside \
            them, the reachable probabilities (p_active_reachable, p_purchase_reachable, \
            p_no_event_reachable) know the traits but not the churn time or the cutoff week's multiplier: \
            they infer both from the sessions before the cutoff, as a model of the events would have to.

            Example:
              veil generate --users 50000 --days 120 --seed 7 \\
                --out events.ndjson --truth truth.csv --catalog catalog.csv --json
            """
    )

    @Option(help: ArgumentHelp("Number of users (≥ 1).", valueName: "n"))
    var users: Int

    @Option(help: ArgumentHelp("Length of the dataset in days (≥ 1).", valueName: "d"))
    var days: Int

    @Option(help: ArgumentHelp("Seed: the same seed gives the same bytes.", valueName: "s"))
    var seed: UInt64

    @Option(help: ArgumentHelp("First day, YYYY-MM-DD (UTC).", valueName: "date"))
    var start = "2026-01-01"

    @Option(help: ArgumentHelp("Write the events to this file instead of stdout.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("Write each user's true horizon probabilities (CSV) to this file.", valueName: "file"))
    var truth: String?

    @Option(
        name: .customLong("truth-cutoff"),
        help: ArgumentHelp("Start of the truth horizon, YYYY-MM-DD (default: start + days − horizon).", valueName: "date"))
    var truthCutoff: String?

    @Option(name: .customLong("truth-horizon-days"), help: ArgumentHelp("Length of the truth horizon in days.", valueName: "days"))
    var truthHorizonDays = 14

    @Option(
        name: .customLong("truth-top-k"),
        help: ArgumentHelp("Most probable next items per truth row (1 … \(TruthRequest.maxTopItems)).", valueName: "k"))
    var truthTopK = 20

    @Option(help: ArgumentHelp("Write the public item catalogue (CSV item_id,category) to this file.", valueName: "file"))
    var catalog: String?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard users >= 1 else { throw ValidationError("--users must be at least 1") }
        guard users <= 100_000_000 else { throw ValidationError("--users must be at most 100000000") }
        guard days >= 1 else { throw ValidationError("--days must be at least 1") }
        guard days <= 36_500 else { throw ValidationError("--days must be at most 36500") }
        guard let startDate = CivilDate(start) else {
            throw ValidationError("--start must be a date YYYY-MM-DD between 1970 and 9999, e.g. 2026-01-01")
        }
        guard startDate.days(until: CivilDate.latest) >= days - 1 else {
            throw ValidationError("--days: the last day (--start + --days − 1) must be on or before 9999-12-31")
        }
        guard truthHorizonDays >= 1 else { throw ValidationError("--truth-horizon-days must be at least 1") }
        if let truthCutoff {
            guard let cutoff = CivilDate(truthCutoff) else {
                throw ValidationError("--truth-cutoff must be a date YYYY-MM-DD, e.g. 2026-04-17")
            }
            let offset = startDate.days(until: cutoff)
            guard offset >= 0, offset + truthHorizonDays <= days else {
                throw ValidationError("--truth-cutoff must be on or after --start and leave --truth-horizon-days inside the dataset")
            }
        } else if truth != nil && days < truthHorizonDays {
            throw ValidationError("--truth needs --days ≥ --truth-horizon-days (the default cutoff is start + days − horizon)")
        }
        guard (1...TruthRequest.maxTopItems).contains(truthTopK) else {
            throw ValidationError("--truth-top-k must be between 1 and \(TruthRequest.maxTopItems)")
        }
        let files = [out, truth, catalog].compactMap { $0 }
        if Set(files).count < files.count { throw ValidationError("--out, --truth and --catalog must be different files") }
    }

    func run() async throws {
        let startDate = CivilDate(start)!
        let cutoffDay = truthCutoff.map { startDate.days(until: CivilDate($0)!) } ?? (days - truthHorizonDays)
        let config = SynthConfiguration(
            users: users, days: days, seed: seed, start: startDate,
            labelCutoffDay: cutoffDay >= 0 ? cutoffDay : nil, labelHorizonDays: truthHorizonDays)
        let shoppers = SyntheticShoppers(config)
        if let catalog {
            let catalogSink = try SynthFileOutput(path: catalog, option: "--catalog")
            try shoppers.writeCatalog(write: catalogSink.write)
            catalogSink.finish()
        }
        let sink = try out.map { try SynthFileOutput(path: $0, option: "--out") } ?? .standardOutput()
        let truthSink = try truth.map { try SynthFileOutput(path: $0, option: "--truth") }
        let progress = ProgressLine(total: users, label: "users generated")
        let summary: GenerationSummary
        var truthSummary: TruthSummary?
        if let truthSink {
            (summary, truthSummary) = try await shoppers.generate(
                write: sink.write, truth: TruthRequest(topItems: truthTopK, write: truthSink.write), progress: progress.update)
            truthSink.finish()
        } else {
            summary = try await shoppers.generate(write: sink.write, progress: progress.update)
        }
        sink.finish()
        progress.finish()

        Output.note("generated \(summary.events) events for \(summary.users) users")
        if let labels = summary.labels {
            Output.note(
                "labels at \(labels.cutoff) (+\(labels.horizonDays) d), users seen before the cutoff: \(labels.usersSeenBeforeCutoff), "
                    + "purchase rate \(Self.format(labels.purchaseLabelRate)), no-event (churn) rate \(Self.format(labels.churnLabelRate))")
        }
        if let truthSummary, let truth {
            let ceiling = truthSummary.nextItem
            Output.note(
                "truth written to \(truth): cutoff \(truthSummary.cutoff), horizon \(truthSummary.horizonDays) d, "
                    + "\(truthSummary.activeAtCutoff) of \(truthSummary.users) users active at the cutoff; next item "
                    + "(first view from the cutoff, \(ceiling.users) users seen before it) ceilings at K = \(ceiling.k): "
                    + "Recall \(Self.format(ceiling.recall)), NDCG \(Self.format(ceiling.ndcg)), MRR \(Self.format(ceiling.mrr))")
        }
        if let catalog { Output.note("catalogue of \(ShopperCatalog.itemCount) items written to \(catalog)") }
        if output.json && out == nil {
            Output.note("--json prints a summary only with --out (stdout carries the events)")
        }
        if output.json && out != nil {
            try Output.json(GenerateReport(
                seed: seed, start: startDate.description, days: days, out: out!, summary: summary,
                truthFile: truth, truth: truthSummary, catalogFile: catalog))
        }
    }

    static func format(_ rate: Double) -> String { String(format: "%.4f", rate) }
}

/// `veil generate --json`: the options that reproduce the file and what it holds.
struct GenerateReport: Encodable {
    let seed: UInt64
    let start: String
    let days: Int
    let out: String
    let summary: GenerationSummary
    let truthFile: String?
    let truth: TruthSummary?
    let catalogFile: String?

    enum CodingKeys: String, CodingKey {
        case seed, start, days, out, summary, truth
        case truthFile = "truth_file"
        case catalogFile = "catalog_file"
    }
}
