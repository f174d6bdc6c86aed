import ArgumentParser
import Foundation
import VeilCore
import VeilLearning
import VeilModels
import VeilRuntime
import VeilStore

/// `veil models`: list, show and review trained models.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List and show trained models; approve, reject or revoke them (as reviewer `--as`, default `cli`).",
        discussion: """
            A model starts as a candidate. Approval (audited with the note) makes it the one that serves \
            its task; a non-private model can never be approved. Revoking an approved model stops it \
            serving at once, also in a running `veil serve`; it never serves again.

            Examples:
              veil models list --json
              veil models show 3f2a…
              veil models approve 3f2a… --note "AUC 0.74 at ε = 1, card checked"
              veil models revoke 3f2a… --note "drift: AUC 0.52 on last week's holdout"
            """,
        subcommands: [List.self, Show.self, Approve.self, Reject.self, Revoke.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every model, newest first, with its kind, ε and headline private metric.",
            discussion: "The headline is the card's differentially private ROC AUC (binary tasks) or top-1 accuracy (next_category) with its 95% interval.\n\nExample:\n  veil models list --json")
        @OptionGroup var service: ServiceOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let models = try await service.withContext { try await $0.models.summaries() }
            if output.json {
                try Output.json(models)
                return
            }
            if models.isEmpty {
                print("no models; train one with `veil train`")
                return
            }
            let epsilon = EpsilonFormat(models.compactMap(\.record.epsilon))
            var table = TextTable([
                ("id", .left), ("task", .left), ("kind", .left), ("state", .left), ("ε", .right), ("private headline (95% interval)", .left),
                ("created", .left),
            ])
            for model in models {
                let record = model.record
                table.append([
                    record.id, record.task, model.modelKind ?? "—", record.state.rawValue,
                    record.epsilon.map(epsilon.callAsFunction) ?? "non-private", model.headline.map(Self.headline) ?? "—",
                    ModelsCommand.time(record.createdMillis),
                ])
            }
            table.lines.forEach { print($0) }
        }

        /// `roc_auc 0.731 [0.702, 0.760]`: the private metric, three decimals, its interval — or what the
        /// noisy counts could not form.
        static func headline(_ headline: ModelSummary.Headline) -> String {
            guard let value = headline.value else { return "\(headline.metric) n/a (noise too large)" }
            guard let low = headline.low, let high = headline.high else {
                return "\(headline.metric) \(String(format: "%.3f", value)) (no interval: noise too large)"
            }
            return "\(headline.metric) \(String(format: "%.3f [%.3f, %.3f]", value, low, high))"
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a model's state and card.", discussion: "Example:\n  veil models show MODEL_ID --json")
        @Argument(help: ArgumentHelp("The model id, or a unique prefix of it (at least 4 hex characters, as git's).", valueName: "id"))
        var id: String
        @OptionGroup var service: ServiceOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            // The operator's view: the whole stored card, its exact statistics labelled.
            var description = try await service.withContext { try await $0.models.describe(id: try await $0.models.resolve(id)) }
            if ModelCard.exactKeys.contains(where: { description.card[$0] != nil }) {
                description.card["exact_metrics_notice"] = .string(ModelCard.exactNotice)
            }
            if output.json {
                try Output.json(description)
                return
            }
            let record = description.record
            print("model   \(record.id)  \(record.task)  \(record.state.rawValue)")
            if let reviewer = record.reviewer {
                print("review  \(reviewer): \(record.reviewNote ?? "")")
            }
            if case .object(let gate)? = description.card["quality_gate"], case .string(let reason)? = gate["reason"] {
                let verdict = gate["passes"] == .bool(true) ? "passes" : "FAILS"
                print("quality \(verdict): \(reason)")
                if let override = record.qualityOverride { print("        approved anyway by \(record.reviewer ?? ""): \(override)") }
            }
            if let revoker = record.revokedBy {
                print("revoked \(revoker) at \(ModelsCommand.time(record.revokedMillis ?? 0)): \(record.revokeNote ?? "")")
            }
            print(try Output.jsonText(description.card), terminator: "")
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a candidate: it serves its task from now on.",
            discussion: """
                A model that does not beat its baselines (ROC AUC not above 0.5 or the best baseline's; \
                for next_category, top-1 accuracy not above the best baseline's) is approved only with \
                --override-quality, recorded with the approval and shown on the card. Who trained a \
                model cannot approve it: approve under another name (--as).

                Examples:
                  veil models approve MODEL_ID --note "card and metrics checked" --as ann-review
                  veil models approve MODEL_ID --note "pilot" --override-quality "below recency, accepted for an A/B pilot" --as ann-review
                """)
        @OptionGroup var review: Review
        @Option(
            name: .customLong("override-quality"),
            help: ArgumentHelp("Why a model that does not beat its baselines is approved anyway (audited).", valueName: "text"))
        var overrideQuality: String?

        func run() async throws {
            try await review.decide { models, id in
                try await models.approve(id: id, reviewer: review.service.principal, note: review.note, qualityOverride: overrideQuality)
            }
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reject a candidate: it never serves.",
            discussion: "Example:\n  veil models reject MODEL_ID --note \"AUC below the recency baseline\"")
        @OptionGroup var review: Review

        func run() async throws {
            try await review.decide { models, id in try await models.reject(id: id, reviewer: review.service.principal, note: review.note) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an approved model: it stops serving at once and never serves again.",
            discussion: "Example:\n  veil models revoke MODEL_ID --note \"calibration drifted; see ticket 42\"")
        @OptionGroup var review: Review

        func run() async throws {
            try await review.decide { models, id in try await models.revoke(id: id, reviewer: review.service.principal, note: review.note) }
        }
    }

    /// What a review names: the model, the reviewer's note, and where the service is.
    struct Review: ParsableArguments {
        @Argument(help: ArgumentHelp("The model id, or a unique prefix of it (at least 4 hex characters, as git's).", valueName: "id"))
        var id: String
        @Option(help: ArgumentHelp("The reviewer's note (audited; 1 to 2000 characters, no personal data).", valueName: "text"))
        var note: String
        @OptionGroup var service: ServiceOptions
        @OptionGroup var output: OutputOptions

        /// Opens the registry, resolves `id` (a unique prefix names its model), records the decision
        /// (audited as reviewer `--as`, with the full id) and prints the record.
        func decide(_ decision: (ModelRegistry, _ id: String) async throws -> ModelRecord) async throws {
            let record = try await service.withContext { context in
                try await decision(context.models, try await context.models.resolve(id))
            }
            try ModelsCommand.report(record, json: output.json)
        }
    }

    static func report(_ record: ModelRecord, json: Bool) throws {
        if json {
            try Output.json(record)
        } else {
            let by = record.state == .revoked ? record.revokedBy : record.reviewer
            print("\(record.id)  \(record.task)  \(record.state.rawValue) by \(by ?? "")")
        }
    }

    static func time(_ millis: Int64) -> String {
        Date(timeIntervalSince1970: Double(millis) / 1000).formatted(.iso8601)
    }

    /// The private metrics of a card, each with its 95% interval.
    static func printPrivateMetrics(_ evaluation: PrivateEvaluation) {
        let shown: [(name: String, label: String)] = [
            ("roc_auc", "ROC AUC"), ("average_precision", "PR AUC"), ("f1_at_half", "F1 at 0.5"), ("top1_accuracy", "top-1"),
            ("top3_accuracy", "top-3"), ("expected_calibration_error", "ECE"),
        ]
        let parts = shown.compactMap { name, label -> String? in
            guard let estimate = evaluation.metrics[name], let value = estimate.value else { return nil }
            // No interval: too few bootstrap replicates could form the metric (a noisy class total ≤ 0).
            let interval =
                estimate.low.flatMap { low in estimate.high.map { String(format: " [%.3f, %.3f]", low, $0) } }
                ?? " [too noisy for an interval]"
            return "\(label) " + String(format: "%.4f", value) + interval
        }
        print("  " + "model (DP)".padding(toLength: 18, withPad: " ", startingAt: 0) + " " + parts.joined(separator: "  "))
    }

    static func printMetrics(_ evaluation: ModelEvaluation, label: String) {
        let name = label.padding(toLength: 18, withPad: " ", startingAt: 0)
        if let binary = evaluation.binary {
            print("  \(name) " + String(
                format: "ROC AUC %.4f  PR AUC %.4f  log loss %.4f  best F1 %.4f", binary.rocAUC ?? .nan,
                binary.averagePrecision ?? .nan, binary.logLoss, binary.atBestF1.f1))
        }
        if let multiclass = evaluation.multiclass {
            print("  \(name) " + String(
                format: "top-1 %.4f  top-3 %.4f  cross-entropy %.4f", multiclass.top1Accuracy,
                multiclass.top3Accuracy, multiclass.crossEntropy))
        }
        if let ranking = evaluation.ranking {
            print("  \(name) " + String(
                format: "Recall@%d %.4f  NDCG@%d %.4f  MRR@%d %.4f  coverage %.4f", ranking.k, ranking.recall, ranking.k,
                ranking.ndcg, ranking.k, ranking.mrr, ranking.coverage))
        }
    }
}
