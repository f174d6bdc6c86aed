import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilLearning
import VeilPrivacy
import VeilStore
import VeilTestSupport
import VeilSynth
import VeilLedger
@testable import VeilModels

@Suite struct TrainingServiceTests {
    private static let at = Date(timeIntervalSince1970: Double(TrainingFixture.cutoff) / 1000)

    @Test func sameSeedGivesTheSameModel() async throws {
        let fixture = try await TrainingFixture()
        let first = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        let second = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        #expect(first.modelId != nil)
        #expect(first.modelId == second.modelId)
        #expect(try await fixture.context.models.list().count == 1)
        let other = try await fixture.trainer.train(TrainingFixture.request(seed: 43), principal: "cli")
        #expect(other.modelId != first.modelId)
        #expect(try await fixture.context.models.list().count == 2)
    }

    @Test func aRefusedBudgetStopsTrainingBeforeAnyEventIsRead() async throws {
        let fixture = try await TrainingFixture(totalEpsilon: 1)
        let counting = CountingStore(fixture.context.stores)
        let context = fixture.context
        let trainer = fixture.trainer(readingThrough: counting)
        do {
            _ = try await trainer.train(TrainingFixture.request(epsilon: 2), principal: "cli")
            Issue.record("a run over the budget must be refused")
        } catch let error as VeilError {
            #expect(error.code == .budgetExceeded)
        }
        #expect(counting.eventReads == 0)
        #expect(try await context.models.list().isEmpty)
        #expect(try await context.budget.status().spends.isEmpty)
        // Control: the same wrapper does see the reads of a run the budget affords.
        _ = try await trainer.train(TrainingFixture.request(epsilon: 0.5), principal: "cli")
        #expect(counting.eventReads > 0)
        #expect(try await context.models.list().count == 1)
    }

    @Test func theDefaultCutoffEndsTheHorizonWithTheLatestStoredDay() async throws {
        let fixture = try await TrainingFixture()
        // 70 days from 2026-01-01: the latest events are on 2026-03-11, so the horizon is the 14 days
        // before 2026-03-12 and the cutoff 2026-02-26 (the fixture's cutoff, and `--truth`'s default).
        let latest = try #require(try await fixture.context.events.latestEventMillis())
        #expect(TrainingPlan.defaultCutoff(latestEventMillis: latest, horizonDays: 14) == TrainingFixture.cutoff)
        var request = TrainingFixture.request()
        request.cutoffMillis = nil
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(card.dataWindow.cutoff == ModelFile.isoTime(millis: TrainingFixture.cutoff))
        #expect(card.dataWindow.horizonEnd == ModelFile.isoTime(millis: TrainingFixture.cutoff + 14 * 86_400_000))
        let positives = try #require(card.metrics?.binary?.positiveCount)
        #expect(positives > 0)
        // The same run with the cutoff spelled out is the same model.
        let explicit = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        #expect(explicit.modelId == card.modelId)
    }

    @Test func aCutoffWhoseHorizonHoldsNoEventIsRefusedBeforeSpending() async throws {
        let fixture = try await TrainingFixture()
        let counting = CountingStore(fixture.context.stores)
        let context = fixture.context
        let trainer = fixture.trainer(readingThrough: counting)
        var request = TrainingFixture.request()
        request.cutoffMillis = Int64(CivilDate(year: 2026, month: 3, day: 20)!.daysSinceEpoch) * 86_400_000
        do {
            _ = try await trainer.train(request, principal: "cli")
            Issue.record("a horizon after the last event must be refused")
        } catch let error as VeilError {
            #expect(error.code == .invalidInput)
            #expect(error.field == "cutoff")
            #expect(error.message.contains("holds no stored event"))
        }
        // A horizon that starts inside the data but ends after it would have incomplete labels.
        request.cutoffMillis = TrainingFixture.cutoff + 86_400_000
        do {
            _ = try await trainer.train(request, principal: "cli")
            Issue.record("a horizon past the end of the data must be refused")
        } catch let error as VeilError {
            #expect(error.field == "cutoff")
            #expect(error.message.contains("runs past the end of the stored data"))
        }
        #expect(counting.eventReads == 0)
        #expect(try await context.budget.status().spends.isEmpty)
        #expect(try await context.models.list().isEmpty)
    }

    @Test func onlyAnApprovedModelServes() async throws {
        let fixture = try await TrainingFixture()
        let card = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        let modelID = try #require(card.modelId)
        let predictor = fixture.context.predictionService()
        let user = fixture.userIDs[0]
        await #expect(throws: VeilError.self) { try await predictor.predict(userID: user, task: .purchase, at: Self.at) }

        let open = try await fixture.trainer.train(TrainingFixture.request(epsilon: nil, nonPrivate: true), principal: "cli")
        #expect(open.isPrivate == false)
        #expect(open.privateMetrics == nil && open.privacySplit == nil, "nothing is paid, so nothing private is released")
        await #expect(throws: VeilError.self) { try await fixture.context.models.approve(id: open.modelId!, reviewer: "reviewer-1", note: "no") }
        await #expect(throws: VeilError.self) { try await predictor.predict(userID: user, task: .purchase, at: Self.at) }

        try await fixture.approveForServing(modelID)
        let prediction = try await predictor.predict(userID: user, task: .purchase, at: Self.at)
        let pseudonym = fixture.context.keys.userPseudonymizer.pseudonym(for: user)
        #expect(prediction.pseudonym == pseudonym.hex)
        #expect(prediction.modelId == modelID)
        #expect(prediction.modelEpsilon == card.epsilon)
        #expect((0...1).contains(prediction.score))
        let again = try await predictor.predict(pseudonym: pseudonym, task: .purchase, at: Self.at)
        #expect(again == prediction)
        let batch = try await predictor.predict(
            fixture.userIDs.prefix(5).map { .userID($0) }, task: .purchase, at: Self.at)
        #expect(batch.count == 5 && batch[0] == .answered(prediction))
        await #expect(throws: VeilError.self) {
            try await predictor.predict(Array(repeating: .pseudonym(pseudonym), count: 1001), task: .purchase, at: Self.at)
        }
        // Churn has no approved model.
        await #expect(throws: VeilError.self) { try await predictor.predict(userID: user, task: .churn, at: Self.at) }
    }

    /// A batch answers every subject it can and gives the others an entry of their own (before, one
    /// unknown subject failed the whole batch with 404); every answer says whether the data reaches `at`.
    @Test func aBatchAnswersEverySubjectItCanAndEveryAnswerSaysWhetherTheDataIsStale() async throws {
        let fixture = try await TrainingFixture()
        let card = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        try await fixture.approveForServing(try #require(card.modelId))
        let predictor = fixture.context.predictionService()
        let unknown = fixture.context.keys.userPseudonymizer.pseudonym(for: "never-seen@example.com")
        let subjects: [PredictionSubject] = [.userID(fixture.userIDs[0]), .pseudonym(unknown), .userID(fixture.userIDs[1])]
        let outcomes = try await predictor.predict(subjects, task: .purchase, at: Self.at)
        #expect(outcomes.count == 3)
        let first = try await predictor.predict(userID: fixture.userIDs[0], task: .purchase, at: Self.at)
        let third = try await predictor.predict(userID: fixture.userIDs[1], task: .purchase, at: Self.at)
        #expect(outcomes[0] == .answered(first) && outcomes[2] == .answered(third))
        guard case .failed(let failure) = outcomes[1] else {
            Issue.record("the unknown subject must get a failure entry")
            return
        }
        #expect(failure.index == 1 && failure.pseudonym == unknown.hex && failure.code == .notFound)
        #expect(failure.message.contains("has no event in the model's observation window before 2026-02-26T00:00:00"))
        await #expect(throws: VeilError.self) { try await predictor.predict(pseudonym: unknown, task: .purchase, at: Self.at) }

        // The fixture's events end on 2026-03-11; the model reads all history and predicts 14 days ahead.
        let fresh = first.freshness
        #expect(fresh.stale == false && fresh.windowDays == 14 && fresh.at == "2026-02-26T00:00:00Z" && fresh.latestEvent?.hasPrefix("2026-03-1") == true)
        let november = Date(timeIntervalSince1970: Double(try #require(DateText.millis("2026-11-01"))) / 1000)
        let late = try await predictor.predict(userID: fixture.userIDs[0], task: .purchase, at: november)
        #expect(late.freshness.stale && late.freshness.windowDays == 14 && late.freshness.at == "2026-11-01T00:00:00Z")
        #expect(late.freshness.warning?.hasPrefix("stale data: the latest stored event (2026-03-1") == true)
        let summary = try await predictor.score(task: .purchase, at: november, principal: "cli", write: { _ in })
        #expect(summary.freshness.stale)

        // A time in the future is refused, naming `at`.
        do {
            _ = try await predictor.predict(subjects, task: .purchase, at: Date().addingTimeInterval(86_400))
            Issue.record("an `at` in the future must be refused")
        } catch let error as VeilError {
            #expect(error.code == .invalidInput && error.field == "at")
        }
    }

    /// The policy's `training.evaluation_share` chooses σ_eval; the card's split and the charge follow it,
    /// and the steps' σ is calibrated to what is left (a larger share, a noisier model).
    @Test func thePolicyNamesTheEvaluationShare() async throws {
        let fixture = try await TrainingFixture(extraTraining: ["evaluation_share: 0.2"])
        let card = try await fixture.trainer.train(TrainingFixture.request(.churn, epsilon: 2), principal: "trainer-1")
        let split = try #require(card.privacySplit)
        let evaluationSigma = BudgetShare.gaussianSigma(share: 0.2, epsilon: 2, delta: 1e-6)
        #expect(split.evaluationShare == 0.2 && split.evaluationNoiseSigma == evaluationSigma)
        #expect(card.privateMetrics?.noiseSigma == evaluationSigma)
        let fivePercent = try await TrainingFixture().trainer.explain(TrainingFixture.request(.churn, epsilon: 2))
        #expect(try #require(card.noiseMultiplier) > fivePercent.noiseMultiplier)
        #expect(try #require(card.epsilon) <= 2)
        let explained = try await fixture.trainer.explain(TrainingFixture.request(.churn, epsilon: 2))
        #expect(explained.noiseMultiplier == card.noiseMultiplier)
    }

    @Test func theCardCarriesWhatTheAccountantCharged() async throws {
        let fixture = try await TrainingFixture()
        let card = try await fixture.trainer.train(TrainingFixture.request(.churn, epsilon: 2), principal: "trainer-1")
        let n = try await fixture.context.stores.vault.identityCount()
        #expect(card.population == n)
        #expect(card.samplingRate == 64 / Double(n))
        #expect(card.steps == 2 * max(1, Int((Double(n) / 64).rounded())))
        let sigma = try #require(card.noiseMultiplier)
        let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: card.samplingRate, noiseMultiplier: sigma, steps: card.steps)
        // The run is one spend: the DP-SGD steps and the private evaluation's histogram release, whose σ
        // takes 5% of the target's zCDP budget; the policy's accountant (PLD by default) calibrated the
        // steps' σ to what is left and charged the composition.
        let split = try #require(card.privacySplit)
        let evaluationSigma = BudgetShare.gaussianSigma(share: 0.05, epsilon: 2, delta: 1e-6)
        #expect(split.evaluationNoiseSigma == evaluationSigma && split.evaluationShare == 0.05)
        let charged = PrivacyMechanism.composition(parts: [mechanism, .discreteGaussian(sigma: evaluationSigma, sensitivity: 1, count: 1)])
        #expect(split.charged == charged)
        let epsilon = PLDAccountant.epsilon(composing: [charged], delta: 1e-6)
        #expect(card.epsilon == epsilon)
        #expect(epsilon <= 2 && epsilon >= 1.98)
        #expect(split.trainingEpsilon == PLDAccountant.epsilon(composing: [mechanism], delta: 1e-6))
        #expect(split.trainingEpsilon < epsilon && split.evaluationEpsilon > 0 && split.evaluationEpsilon < epsilon)
        let privateMetrics = try #require(card.privateMetrics)
        #expect(privateMetrics.noiseSigma == evaluationSigma && privateMetrics.histogram == "binary_score_histogram")
        #expect(Set(privateMetrics.metrics.keys) == Set(HoldoutHistogram.Layout.binary(bins: 20).metricNames))
        // The released histogram is kept on the card: the counts the metrics (and the card's private plots) come from.
        let noisyCounts = try #require(privateMetrics.noisyCounts)
        #expect(noisyCounts.count == 40 && privateMetrics.metrics["example_count"]?.value == Double(noisyCounts.reduce(0, +)))
        // The fixture's holdout is small (σ ≈ 12 on each of 40 cells): an interval is there only when 95%
        // of the replicates can form the metric (a noisy class total can be ≤ 0), and then it is ordered.
        for (name, estimate) in privateMetrics.metrics {
            #expect((estimate.low == nil) == (estimate.high == nil), "\(name)")
            if let low = estimate.low, let high = estimate.high { #expect(low <= high, "\(name)") }
        }
        // Counts always form; on this small holdout a noisy class total may not (then AUC is nil).
        #expect(privateMetrics.metrics["example_count"]?.value != nil && privateMetrics.metrics["example_count"]?.low != nil)
        #expect(privateMetrics.metrics["roc_auc"]?.value != nil || privateMetrics.metrics["roc_auc"]?.low == nil)
        #expect(card.delta == 1e-6 && card.clippingNorm == 1 && card.isPrivate && card.seeded)
        #expect(card.accountant == ModelCard.accountantDescription(.pld))
        #expect(card.policyHash == fixture.context.policy.hash)
        #expect(card.features.names.count == card.model.parameterCount - 1)
        #expect((card.trainCount ?? 0) > 0 && (card.holdoutCount ?? 0) > 0)
        #expect(card.metrics?.rocAuc != nil)
        #expect(Set(try #require(card.baselines).keys) == ["base_rate", "recency"])
        let spends = try await fixture.context.budget.status().spends
        #expect(spends.count == 1, "one spend for the run and its evaluation")
        #expect(spends.last?.mechanism == charged)
        #expect(spends.last?.principal == "trainer-1")

        let log = try await fixture.context.stores.chainLines().joined(separator: "\n")
        #expect(log.contains("model.train"))
        #expect(log.contains(card.modelId!))
        let train = try #require(try await fixture.context.stores.chainBodies().first { $0.action == "model.train" })
        #expect(train.details["evaluation_noise_sigma"] == .double(evaluationSigma))
        #expect(train.details["training_epsilon"] == .double(split.trainingEpsilon))
        #expect(train.details["evaluation_epsilon"] == .double(split.evaluationEpsilon))
        // No metric, exact or private, in the audit log.
        for metric in ["roc_auc", "average_precision", "accuracy", "metrics", "log_loss"] { #expect(!log.contains(metric), "\(metric)") }

        let description = try await fixture.context.models.describe(id: card.modelId!)
        #expect(description.card["model_id"] == .string(card.modelId!))
        #expect(description.card["epsilon"] == .double(epsilon))

        // Exact holdout statistics: to nobody over HTTP by default, to reviewers (and admins) labelled
        // when the policy allows them; the private metrics to everyone.
        // (The fixture's policy keeps them in the file; the rule for showing them is the policy's.)
        var allowing = fixture.context.policy.policy
        allowing.training.exactHoldoutMetrics = true
        var forbidding = allowing
        forbidding.training.exactHoldoutMetrics = false
        for role in Role.allCases {
            let shown = ModelCard.shown(description.card, to: role, policy: forbidding)
            #expect(ModelCard.exactKeys.allSatisfy { shown[$0] == nil } && shown["exact_metrics_notice"] == nil, "\(role)")
            #expect(shown["private_metrics"] != nil && shown["epsilon"] == .double(epsilon))
            let allowed = ModelCard.shown(description.card, to: role, policy: allowing)
            let reviewer = role == .reviewer || role == .admin
            #expect(ModelCard.exactKeys.allSatisfy { (allowed[$0] != nil) == reviewer }, "\(role)")
            #expect(allowed["exact_metrics_notice"] == (reviewer ? .string(ModelCard.exactNotice) : nil))
        }
    }

    @Test func nextCategoryTrainsASoftmaxModel() async throws {
        let fixture = try await TrainingFixture()
        var request = TrainingFixture.request(.nextCategory)
        request.model = .mlp
        request.hiddenSizes = [8]
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(card.model.kind == "mlp_softmax")
        #expect(card.metrics?.multiclass != nil)
        #expect(Set(try #require(card.baselines).keys) == ["base_rate", "favourite_category", "session_favourite_category"])
    }

    @Test func noRawUserIDLeavesTheService() async throws {
        let fixture = try await TrainingFixture()
        let card = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        let id = try #require(card.modelId)
        try await fixture.approveForServing(id)
        let predictor = fixture.context.predictionService()
        var csv = ""
        let summary = try await predictor.score(task: .purchase, at: Self.at, principal: "cli") { csv += $0 }
        #expect(summary.scored > 0)
        #expect(csv.hasPrefix("pseudonym,score\n"))
        #expect(csv.split(separator: "\n").count == summary.scored + 1)
        // A batch score is counted like served predictions: one model.predictions record for the model and day.
        #expect(predictor.tally.served == Int64(summary.scored))
        #expect(try await predictor.flushCounts(actor: "cli") == 1)
        let counted = try await fixture.context.stores.chainBodies().filter { $0.action == "model.predictions" }
        #expect(counted.count == 1 && counted.first?.details["count"] == .int(Int64(summary.scored)))
        #expect(counted.first?.details["model_id"] == .string(id))
        let prediction = try await predictor.predict(userID: fixture.userIDs[1], task: .purchase, at: Self.at)
        let encoder = JSONEncoder()
        let texts = [
            String(decoding: try await fixture.context.models.artifact(id: id), as: UTF8.self),
            String(decoding: try encoder.encode(card), as: UTF8.self),
            String(decoding: try encoder.encode(try await fixture.context.models.describe(id: id)), as: UTF8.self),
            String(decoding: try encoder.encode(prediction), as: UTF8.self),
            csv,
            try await fixture.context.stores.chainLines().joined(separator: "\n"),
        ]
        for text in texts {
            #expect(!text.contains("user-0"))
        }
        let fileNames = try FileManager.default.contentsOfDirectory(atPath: fixture.directory + "/data/models")
        #expect(fileNames == ["\(id).json"])
    }

    @Test func badRequestsNameTheField() async throws {
        let fixture = try await TrainingFixture(allowNonPrivate: false)
        let field = fixture.refusedField
        #expect(await field(TrainingFixture.request(epsilon: nil, nonPrivate: true)) == "non_private")
        #expect(await field(TrainingFixture.request(epsilon: nil)) == "epsilon")
        #expect(await field(TrainingFixture.request(epsilon: -1)) == "epsilon")
        var request = TrainingFixture.request()
        request.hiddenSizes = [4]
        #expect(await field(request) == "hidden_sizes")
        request = TrainingFixture.request()
        request.clippingNorm = 0
        #expect(await field(request) == "clipping_norm")
        request = TrainingFixture.request()
        request.delta = 1e-3
        #expect(await field(request) == "delta")
        request = TrainingFixture.request()
        request.batchSize = 1_000_000
        #expect(await field(request) == "batch_size")
        request = TrainingFixture.request()
        request.cutoffMillis = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await field(request) == "cutoff")
        #expect(try await fixture.context.models.list().isEmpty)
    }
}

/// The exact holdout statistics stay in a model file only where the policy allows
/// (`training.exact_holdout_metrics`); elsewhere the file holds the private metrics and whether the
/// model beats its baselines, so an exported file holds no unpaid release.
@Suite struct ExactHoldoutMetricsStorageTests {
    /// The stored card of model `id`, as JSON.
    private static func storedCard(_ fixture: TrainingFixture, _ id: String) async throws -> [String: JSONValue] {
        try ModelFile.cardJSON(try await fixture.context.models.artifact(id: id))
    }

    @Test func aPolicyThatForbidsThemKeepsThemOutOfTheModelFile() async throws {
        let fixture = try await TrainingFixture(exactHoldoutMetrics: false)
        let card = try await fixture.trainer.train(TrainingFixture.request(.churn), principal: "trainer-1")
        let id = try #require(card.modelId)
        #expect(card.metrics == nil && card.baselines == nil && card.trainCount == nil && card.holdoutCount == nil)
        let stored = try await Self.storedCard(fixture, id)
        for key in ModelCard.exactKeys { #expect(stored[key] == nil, "\(key)") }
        #expect(stored["private_metrics"] != nil)
        let gate = try #require(stored["quality_gate"]?.objectValue)
        #expect(Set(gate.keys) == ["passes", "metric", "best_baseline", "reason"])
        #expect(gate["metric"] == .string("roc_auc"))
        // No exact figure anywhere in the file: its notes say what was dropped.
        #expect(!(stored["notes"].map { "\($0)" } ?? "").contains("NOT FOR RELEASE"))

        // The gate a reviewer's approval is checked against is the stored one.
        let described = try await fixture.context.models.describe(id: id)
        let passes = try #require(gate["passes"])
        #expect(described.card["quality_gate"]?.objectValue?["passes"] == passes)
        let record = try await fixture.context.models.approve(
            id: id, reviewer: "rita", note: "checked", qualityOverride: passes == .bool(true) ? nil : "small fixture")
        #expect(record.state == .approved)
    }

    /// The stored gate is the one read off the exact statistics before they were dropped; a file that
    /// keeps them (as every file before this rule) is judged from them, as before.
    @Test func theStoredGateIsTheOneTheExactMetricsGive() async throws {
        let fixture = try await TrainingFixture()
        let full = try await fixture.trainer.train(TrainingFixture.request(.churn), principal: "trainer-1")
        let stored = try await Self.storedCard(fixture, try #require(full.modelId))
        #expect(stored["metrics"] != nil && stored["quality_gate"] == nil)
        let judged = QualityGate.judge(card: stored)
        #expect(judged.model != nil)
        let stripped = try full.withoutExactMetrics()
        guard case .object(let strippedJSON) = try stripped.jsonValue() else { throw VeilError(.integrity, "not an object") }
        let fromStored = QualityGate.judge(card: strippedJSON)
        #expect(fromStored.passes == judged.passes && fromStored.metric == judged.metric)
        #expect(fromStored.bestBaseline == judged.bestBaseline)
        #expect(fromStored.model == nil && fromStored.bestBaselineValue == nil)
        #expect(fromStored.reason == QualityGate.numberFreeReason(passes: judged.passes))
    }
}
