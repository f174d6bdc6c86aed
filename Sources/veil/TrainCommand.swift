import ArgumentParser
import Foundation
import VeilCore
import VeilLearning
import VeilModels
import VeilRuntime
import VeilSynth

/// `veil train`: train a behaviour model with DP-SGD and register it as a candidate.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a purchase, churn, next-category or next-item model with DP-SGD; registers a candidate for review.",
        discussion: """
            The cost — the subsampled Gaussian mechanism with q = batch / users, σ calibrated to --epsilon, \
            steps = epochs × round(users / batch) — is reserved from the budget before any event is read; \
            a refusal stops here. Features come from the events before --cutoff (over --window, default \
            all), labels from the --horizon after it. Without --cutoff the cutoff is the end of the UTC \
            day of the latest stored event minus the horizon, so the horizon ends where the data does \
            (the card's data_window shows it); a cutoff whose horizon holds no stored event, or runs \
            past the end of that day, is refused before any budget is spent. The model is a candidate until a reviewer approves it \
            (`veil models approve`). See docs/models.md.

            --model gru|cnn reads each user's last --sequence-length events (default the policy's \
            sequences.length) through an embedding of --embedding columns and a GRU (or causal \
            convolutions) of --hidden units; next_item needs one. For purchase, churn and \
            next_category the head also reads the feature-row aggregates, and each sequence ends with \
            a marker carrying the time from the last event to the cutoff, in the policy's \
            sequences.time_to_cutoff_bounds_seconds buckets. A sequence model's item vocabulary is the policy's \
            catalog.items_file, or else chosen by DP partition selection, paid inside the run's one \
            spend with --vocabulary-epsilon of it (default 10% of --epsilon), shown on the card. \
            --evaluation leave_last_out evaluates next_item as RecBole's leave-one-out: every user's \
            last item before the cutoff is held out and the model and baselines train on the events \
            before it (for interaction logs where few users act on both sides of a cutoff; pair it \
            with --horizon 1d to use nearly all the data). next_item on a GRU at ε = 4 learns more from \
            larger batches, more epochs and a larger step than the other tasks: policies/default.yaml \
            gives it its own defaults (training.task_defaults.next_item: batch 2048, 20 epochs, step \
            0.04, for the GRU only; on 50,000 synthetic users +0.01 to +0.05 Recall@10; docs/models.md), \
            which need at least 2,048 users. --head-reads-events lets the head read each \
            event's embedding beside the encoder's state (for next_item, the item a target follows); \
            --head-prior starts the head at the task's prior instead of at random (next_category: the \
            favourite category by sessions, from the policy's categories alone, costing no ε). A next_item model \
            lets a user's own items (those in the sequence) add to their scores, by two weights it \
            learns (the repeat path: revisits and repeat purchases); --no-repeat-path turns it off.

            --explain prints σ, q, steps and ε under both accountants (the policy's privacy.accountant \
            calibrates σ) and stops: it reads no event and spends nothing.

            Examples:
              veil train --task purchase --epsilon 1 --cutoff 2026-04-17 --json
              veil train --task purchase --epsilon 1 --explain
              veil train --task churn --epsilon 2 --model mlp --hidden 64 --epochs 5 \\
                  --batch-size 512 --cutoff 2026-04-17
              veil train --task next_item --epsilon 4 --model gru --hidden 64 --embedding 32 \\
                  --sequence-length 50
              veil train --task next_item --epsilon 8 --model gru --evaluation leave_last_out --horizon 1d
              veil train --task next_item --epsilon 4 --model gru --batch-size 2048 --epochs 20 --learning-rate 0.04
              veil train --task next_category --epsilon 4 --model gru --head-prior --batch-size 4096 --epochs 10 --hidden 16 --embedding 8
            """
    )

    @Option(help: ArgumentHelp("purchase, churn, next_category or next_item (gru or cnn only).", valueName: "task"))
    var task: PredictionTask
    @Option(help: ArgumentHelp("Target ε of the run (> 0). Required unless --non-private.", valueName: "epsilon"))
    var epsilon: Double?
    @Option(help: ArgumentHelp("δ, in (0, policy budget.delta]; default the policy's δ.", valueName: "delta"))
    var delta: Double?
    @Option(help: ArgumentHelp("logistic, mlp, gru or cnn.", valueName: "model"))
    var model: ModelFamily = .logistic
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Hidden layer widths of an mlp (default \(TrainingRequest.defaultHiddenSizes.map(String.init).joined(separator: " "))), e.g. --hidden 64 32; the one width of a gru or cnn (default \(TrainingRequest.defaultSequenceHidden)).",
            valueName: "units"))
    var hidden: [Int] = []
    @Option(
        help: ArgumentHelp(
            "Embedding width of a gru or cnn (default \(TrainingRequest.defaultEmbeddingWidth)).", valueName: "n"))
    var embedding: Int?
    @Option(
        help: ArgumentHelp(
            "Events per user a gru or cnn reads (default and most: the policy's sequences.length).", valueName: "n"))
    var sequenceLength: Int?
    @Option(
        help: ArgumentHelp(
            "ε of the DP item-vocabulary selection of a gru or cnn when the policy names no catalogue; part of --epsilon (default 10%).",
            valueName: "epsilon"))
    var vocabularyEpsilon: Double?
    @Option(
        help: ArgumentHelp(
            "How next_item is evaluated: holdout_users (default: held-out users' first item after the cutoff) or leave_last_out (every user's last item before the cutoff, trained on what came before).",
            valueName: "split"))
    var evaluation: RankingSplit?
    @Flag(help: "A gru or cnn whose head also reads each event's embedded row beside the encoder's state (the event path).")
    var headReadsEvents = false
    @Flag(help: "A gru or cnn whose head starts at the task's prior instead of at random (next_category: the favourite category by sessions; costs no ε).")
    var headPrior = false
    @Flag(
        inversion: .prefixedNo,
        help: "A next_item gru or cnn whose scores rise for the user's own items, those in the sequence (the repeat path; default on for next_item).")
    var repeatPath: Bool?
    @Option(help: ArgumentHelp("Passes over the users (default: the policy's training.task_defaults for the task and model, else training.default_epochs).", valueName: "n"))
    var epochs: Int?
    @Option(help: ArgumentHelp("Expected users per step (default: the policy's training.task_defaults for the task and model, else training.default_batch_size).", valueName: "n"))
    var batchSize: Int?
    @Option(help: ArgumentHelp("Per-user clipping norm C (default: policy training.clipping_norm).", valueName: "c"))
    var clip: Double?
    @Option(help: ArgumentHelp("Adam learning rate (default: the policy's training.task_defaults for the task and model, else training.default_learning_rate).", valueName: "rate"))
    var learningRate: Double?
    @Option(
        help: ArgumentHelp(
            "Cutoff date YYYY-MM-DD (UTC); default: the end of the day of the latest stored event − horizon. Refused if its horizon holds no event or runs past the data.",
            valueName: "date"))
    var cutoff: String?
    @Option(help: ArgumentHelp("Observation window before the cutoff, e.g. 90d (default: all history).", valueName: "days"))
    var window: String?
    @Option(
        help: ArgumentHelp(
            "Label horizon after the cutoff, e.g. 28d (default \(TrainingRequest.defaultHorizonDays)d).", valueName: "days"))
    var horizon: String?
    @Option(help: ArgumentHelp("Seed every generator: reproducible, but the noise is predictable. Tests only.", valueName: "n"))
    var seed: UInt64?
    @Flag(help: "Train without differential privacy (only if the policy allows; never servable).")
    var nonPrivate = false
    @Flag(help: "Print σ, q, steps and ε under both accountants for this run, then stop (reads no event, spends nothing).")
    var explain = false

    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    /// Parsing only: the training rules are `TrainingRequest.validate`'s, checked by the service.
    func validate() throws {
        if let cutoff, CLIDates.millis(cutoff) == nil { throw ValidationError("--cutoff \(DateText.rule)") }
        if let window, CLIDates.days(window) == nil { throw ValidationError("--window must be a number of days such as 90d") }
        if let horizon, CLIDates.days(horizon) == nil { throw ValidationError("--horizon must be a number of days such as 14d") }
    }

    /// The option that sets each `TrainingRequest` field, so an error names what the user typed.
    static let options: [String: String] = [
        "epsilon": "--epsilon", "delta": "--delta", "model": "--model", "hidden_sizes": "--hidden", "epochs": "--epochs",
        "embedding_width": "--embedding", "sequence_length": "--sequence-length", "vocabulary_epsilon": "--vocabulary-epsilon",
        "evaluation": "--evaluation", "head_reads_events": "--head-reads-events", "head_prior": "--head-prior",
        "repeat_path": "--repeat-path",
        "batch_size": "--batch-size", "clipping_norm": "--clip", "learning_rate": "--learning-rate", "cutoff": "--cutoff",
        "window_days": "--window", "horizon_days": "--horizon", "seed": "--seed", "non_private": "--non-private",
    ]

    func run() async throws {
        let request = TrainingRequest(
            task: task, epsilon: epsilon, delta: delta, model: model, hiddenSizes: hidden.isEmpty ? nil : hidden,
            embeddingWidth: embedding, sequenceLength: sequenceLength, vocabularyEpsilon: vocabularyEpsilon, evaluation: evaluation,
            headReadsEvents: headReadsEvents ? true : nil, headPrior: headPrior ? true : nil, repeatPath: repeatPath, epochs: epochs, batchSize: batchSize, clippingNorm: clip, learningRate: learningRate,
            cutoffMillis: cutoff.flatMap(CLIDates.millis), windowDays: window.flatMap(CLIDates.days),
            horizonDays: horizon.flatMap(CLIDates.days), seed: seed, nonPrivate: nonPrivate)
        let display = TrainingDisplay(enabled: isatty(2) == 1)
        let card: ModelCard
        do {
            if explain {
                let explanation = try await service.withContext { context in
                    try await context.trainingService().explain(request)
                }
                return try PrivacyText.print(explanation, json: output.json)
            }
            card = try await service.withContext { context in
                try await context.trainingService().train(request, principal: service.principal, progress: display.show)
            }
        } catch let error as VeilError {
            guard let option = error.field.flatMap({ Self.options[$0] }) else { throw error }
            throw VeilError(error.code, field: option, error.message)  // name the option the user typed
        }
        if output.json {
            try Output.json(try card.jsonValue())
            return
        }
        print("model      \(card.modelId ?? "")   (candidate; approve with `veil models approve \(card.modelId ?? "") --note ...`)")
        print("task       \(card.task)   \(card.model.kind) \(card.model.hiddenSizes)")
        if card.isPrivate {
            print(
                "privacy    ε = \(EpsilonFormat.text(card.epsilon ?? 0)) at δ = \(String(format: "%g", card.delta ?? 0))   "
                    + String(format: "σ = %.4f  q = %.5f  C = %g  steps = %d", card.noiseMultiplier ?? 0, card.samplingRate, card.clippingNorm ?? 0, card.steps))
        } else {
            print("privacy    NONE (non-private; can never be approved)")
        }
        if let split = card.privacySplit {
            var parts = String(
                format: "training ε = %.4f, evaluation ε = %.4f (%g %% of the run's ρ, training.evaluation_share; σ = %.4g on the holdout histogram)",
                split.trainingEpsilon, split.evaluationEpsilon, split.evaluationShare * 100, split.evaluationNoiseSigma)
            if let vocabulary = split.vocabularyEpsilon { parts += String(format: ", item selection ε = %.4f", vocabulary) }
            print("split      \(parts); one spend, composed")
        }
        if let sequence = card.sequence {
            var head = ""
            if sequence.headReadsEvents == true { head += ", head reads events" }
            if let prior = sequence.headPrior { head += ", head prior \(prior)" }
            if sequence.repeatPath == true { head += ", repeat path" }
            print("sequences  L = \(sequence.length), embedding \(sequence.embeddingWidth), \(sequence.vocabulary.items) items (\(sequence.vocabulary.source.rawValue))\(head)")
        }
        if let trainCount = card.trainCount, let holdoutCount = card.holdoutCount {
            print("users      \(trainCount) train, \(holdoutCount) holdout")
        }
        if let privateMetrics = card.privateMetrics {
            print("metrics    differentially private, 95% intervals (sampling and noise):")
            ModelsCommand.printPrivateMetrics(privateMetrics)
        }
        if let metrics = card.metrics {
            print("exact      NOT FOR RELEASE (not covered by ε):")
            ModelsCommand.printMetrics(metrics, label: "model")
            for (name, baseline) in (card.baselines ?? [:]).sorted(by: { $0.key < $1.key }) {
                ModelsCommand.printMetrics(baseline, label: name)
            }
        } else if case .bool(let passes)? = card.qualityGate?["passes"] {
            print(
                "exact      not kept (policy training.exact_holdout_metrics: false); the model \(passes ? "beats" : "does not beat") its baselines on them")
        }
    }
}

/// Training progress on stderr, on a terminal only. The loss and the share of clipped users are shown
/// here and nowhere else.
final class TrainingDisplay: Sendable {
    private let enabled: Bool

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: TrainingProgress) {
        guard enabled else { return }
        switch progress.phase {
        case .reading:
            FileHandle.standardError.write(Data("\rreading: \(progress.usersRead) users".utf8))
        case .training:
            let epsilon = progress.epsilonSoFar.map { "  ε so far \(EpsilonFormat.text($0))" } ?? ""
            let loss = progress.meanLoss.map { String(format: "  loss %.4f", $0) } ?? ""
            let clipped = progress.clippedShare.map { String(format: "  clipped %.0f%%", $0 * 100) } ?? ""
            FileHandle.standardError.write(
                Data(
                    "\nepoch \(progress.epoch)/\(progress.epochs)  steps \(progress.steps)/\(progress.totalSteps)\(epsilon)\(loss)\(clipped)"
                        .utf8))
        case .evaluating:
            FileHandle.standardError.write(Data("\nevaluating on holdout users\n".utf8))
        }
    }
}

/// Dates and day counts as the CLI accepts them.
enum CLIDates {
    /// `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 time → Unix ms (`DateText`, shared with the gateway).
    static func millis(_ text: String) -> Int64? { DateText.millis(text) }

    /// `90d` or `90` → 90.
    static func days(_ text: String) -> Int? {
        let digits = text.hasSuffix("d") ? String(text.dropLast()) : text
        guard let value = Int(digits), value >= 1 else { return nil }
        return value
    }
}

extension PredictionTask: ExpressibleByArgument {}
extension ModelFamily: ExpressibleByArgument {}
extension RankingSplit: ExpressibleByArgument {}
