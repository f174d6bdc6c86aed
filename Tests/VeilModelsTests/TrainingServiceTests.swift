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
        let trainer = TrainingService(
            policy: context.policy, master: context.keys.master, events: counting, vault: counting,
            budget: context.budget, models: context.models)
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
        let positives = try #require(card.metrics.binary?.positiveCount)
        #expect(positives > 0)
        // The same run with the cutoff spelled out is the same model.
        let explicit = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        #expect(explicit.modelId == card.modelId)
    }

    @Test func aCutoffWhoseHorizonHoldsNoEventIsRefusedBeforeSpending() async throws {
        let fixture = try await TrainingFixture()
        let counting = CountingStore(fixture.context.stores)
        let context = fixture.context
        let trainer = TrainingService(
            policy: context.policy, master: context.keys.master, events: counting, vault: counting,
            budget: context.budget, models: context.models)
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
        await #expect(throws: VeilError.self) { try await fixture.context.models.approve(id: open.modelId!, reviewer: "reviewer-1", note: "no") }
        await #expect(throws: VeilError.self) { try await predictor.predict(userID: user, task: .purchase, at: Self.at) }

        _ = try await fixture.context.models.approve(
            id: modelID, reviewer: "reviewer-1", note: "fine", qualityOverride: "fixture model (AUC below chance); serving is under test")
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
        #expect(batch.count == 5 && batch[0] == prediction)
        await #expect(throws: VeilError.self) {
            try await predictor.predict(Array(repeating: .pseudonym(pseudonym), count: 1001), task: .purchase, at: Self.at)
        }
        // Churn has no approved model.
        await #expect(throws: VeilError.self) { try await predictor.predict(userID: user, task: .churn, at: Self.at) }
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
        // The policy's accountant (PLD by default) calibrated σ and charged the run.
        let epsilon = PLDAccountant.epsilon(composing: [mechanism], delta: 1e-6)
        #expect(card.epsilon == epsilon)
        #expect(epsilon <= 2 && epsilon >= 1.98)
        #expect(card.delta == 1e-6 && card.clippingNorm == 1 && card.isPrivate && card.seeded)
        #expect(card.accountant == ModelCard.accountantDescription(.pld))
        #expect(card.policyHash == fixture.context.policy.hash)
        #expect(card.features.names.count == card.model.parameterCount - 1)
        #expect(card.trainCount > 0 && card.holdoutCount > 0)
        #expect(card.metrics.rocAuc != nil)
        #expect(Set(card.baselines.keys) == ["base_rate", "recency"])
        let spend = try #require(try await fixture.context.budget.status().spends.last)
        #expect(spend.mechanism == mechanism)
        #expect(spend.principal == "trainer-1")

        let log = try await fixture.context.stores.chainLines().joined(separator: "\n")
        #expect(log.contains("model.train"))
        #expect(log.contains(card.modelId!))

        let description = try await fixture.context.models.describe(id: card.modelId!)
        #expect(description.card["model_id"] == .string(card.modelId!))
        #expect(description.card["epsilon"] == .double(epsilon))
    }

    @Test func nextCategoryTrainsASoftmaxModel() async throws {
        let fixture = try await TrainingFixture()
        var request = TrainingFixture.request(.nextCategory)
        request.model = .mlp
        request.hiddenSizes = [8]
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(card.model.kind == "mlp_softmax")
        #expect(card.metrics.multiclass != nil)
        #expect(Set(card.baselines.keys) == ["base_rate", "favourite_category"])
    }

    @Test func noRawUserIDLeavesTheService() async throws {
        let fixture = try await TrainingFixture()
        let card = try await fixture.trainer.train(TrainingFixture.request(), principal: "cli")
        let id = try #require(card.modelId)
        _ = try await fixture.context.models.approve(
            id: id, reviewer: "reviewer-1", note: "ok", qualityOverride: "fixture model (AUC below chance); serving is under test")
        let predictor = fixture.context.predictionService()
        var csv = ""
        let summary = try await predictor.score(task: .purchase, at: Self.at, principal: "cli") { csv += $0 }
        #expect(summary.scored > 0)
        #expect(csv.hasPrefix("pseudonym,score\n"))
        #expect(csv.split(separator: "\n").count == summary.scored + 1)
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
        func field(_ request: TrainingRequest) async -> String? {
            do {
                _ = try await fixture.trainer.train(request, principal: "cli")
                return nil
            } catch let error as VeilError {
                return error.field
            } catch {
                return "\(error)"
            }
        }
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
