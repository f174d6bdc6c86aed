import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning
import VeilTestSupport
@testable import VeilModels

/// Sequence models through the training and prediction use cases, on the synthetic fixture (400 users,
/// 70 days): the vocabulary from the policy's catalogue or from paid DP partition selection, the
/// artifact and card, serving and recommendations, and old model files still loading.
@Suite struct SequenceTrainingTests {
    private static let at = Date(timeIntervalSince1970: Double(TrainingFixture.cutoff) / 1000)

    /// A fixture whose policy names `catalog.csv` beside it, listing the `items` items most stored
    /// events name (the test's public list: small, so a debug build trains fast).
    static func catalogued(items: Int = 40) async throws -> TrainingFixture {
        let fixture = try await TrainingFixture(extraPolicy: "catalog:\n  items_file: catalog.csv\n")
        var counts: [String: Int] = [:]
        try await fixture.context.events.forEachEventChunk(chunkSize: 50_000) { chunk in
            for event in chunk { if let item = event.itemID { counts[item, default: 0] += 1 } }
        }
        let top = counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(items).map(\.key)
        try (["item_id"] + top).joined(separator: "\n").write(
            toFile: fixture.directory + "/catalog.csv", atomically: true, encoding: .utf8)
        return fixture
    }

    static func request(_ task: PredictionTask, model: ModelFamily = .gru, epsilon: Double? = 2) -> TrainingRequest {
        var request = TrainingFixture.request(task, epsilon: epsilon)
        request.model = model
        request.hiddenSizes = [8]
        request.embeddingWidth = 4
        request.sequenceLength = 12
        return request
    }

    @Test func theCatalogueIsReadRelativeToThePolicyAndCostsNothing() async throws {
        let fixture = try await Self.catalogued()
        let (vocabulary, provenance) = try #require(try ItemVocabularySource.catalog(policy: fixture.context.policy))
        #expect(vocabulary.count == 40 && provenance.source == .catalog)
        let bytes = try #require(FileManager.default.contents(atPath: fixture.directory + "/catalog.csv"))
        #expect(provenance.catalogHash == Hex.encode(BLAKE2b.hash256(Array(bytes))))
        var request = Self.request(.nextItem)
        request.headReadsEvents = true
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(card.model.kind == "gru_sequence" && card.model.hiddenSizes == [8])
        #expect(card.sequence?.vocabulary == provenance && card.sequence?.length == 12)
        #expect(card.sequence?.context == [])  // next_item targets every event: no cutoff aggregates
        #expect(card.sequence?.timeToCutoffBoundsSeconds == nil)  // nor a cutoff marker
        #expect(card.sequence?.headReadsEvents == true)  // asked for: the head reads each event's embedded row
        guard case .sequence(let artifact) = try ModelFile.decode(try await fixture.context.models.artifact(id: try #require(card.modelId))).model
        else { throw VeilError(.integrity, field: "model", "not a sequence artifact") }
        #expect(artifact.architecture.headReadsEvents && artifact.formatVersion == 4)
        #expect(artifact.architecture.repeatPath && card.sequence?.repeatPath == true)  // next_item's default
        #expect(card.model.parameterCount == artifact.architecture.parameterCount)
        #expect(card.sequence?.headPrior == nil)
        let ranking = try #require(card.metrics?.ranking)
        #expect(ranking.k == 10 && ranking.catalogueSize == 40 && ranking.users == card.holdoutCount)
        #expect(Set(try #require(card.baselines).keys) == ["popularity", "transition", "repeat"])
        #expect(try #require(card.baselines).values.allSatisfy { $0.ranking?.users == ranking.users })
        // Private Recall@10, NDCG@10 and MRR@10 from the noisy rank histogram, paid in the one spend.
        let split = try #require(card.privacySplit)
        #expect(split.vocabularyEpsilon == nil)
        guard case .composition(let parts) = split.charged else { throw VeilError(.integrity, field: "charged", "not a composition") }
        #expect(parts.count == 2 && parts[1] == .discreteGaussian(sigma: split.evaluationNoiseSigma, sensitivity: 1, count: 1))
        let privateMetrics = try #require(card.privateMetrics)
        #expect(privateMetrics.histogram == "ranking_histogram" && privateMetrics.bins == 10)
        #expect(Set(privateMetrics.metrics.keys) == ["example_count", "recall_at_10", "ndcg_at_10", "mrr_at_10"])
        #expect((card.epsilon ?? 9) <= 2 + 1e-9)
        let spends = try await fixture.context.budget.status().spends
        #expect(spends.count == 1 && spends[0].purpose == "train next_item model (gru) with private evaluation")
    }

    /// Binary tasks on a sequence model: the task's metrics, its baselines, today's logistic model on the
    /// same split at the same σ, q and steps, and the private metrics paid in the run's spend. The model
    /// is wide and deep: its head reads the logistic model's features and the time to the cutoff, and
    /// serving computes them from the user's events as training did.
    @Test(arguments: [ModelFamily.gru, .cnn])
    func binaryTasksShowTheLogisticModelOnTheSameSplit(model: ModelFamily) async throws {
        let fixture = try await Self.catalogued()
        let card = try await fixture.trainer.train(Self.request(.purchase, model: model), principal: "cli")
        #expect(card.model.kind == "\(model.rawValue)_sequence")
        let gaps = Policy().sequences.gapBoundsSeconds.count + 1
        #expect(card.sequence?.context.count == card.features.names.count + gaps)
        #expect(card.sequence?.context.prefix(card.features.names.count).elementsEqual(card.features.names) == true)
        let id = try #require(card.modelId)
        let file = try await fixture.context.models.artifact(id: id)
        guard case .sequence(let artifact) = try ModelFile.decode(file).model else {
            throw VeilError(.integrity, field: "model", "not a sequence artifact")
        }
        #expect(artifact.schema.context == card.features && artifact.architecture.contextWidth == artifact.schema.contextWidth)
        // The sequences end with the cutoff marker under the policy's bounds; the file says so (format 2).
        #expect(card.sequence?.timeToCutoffBoundsSeconds == Policy().sequences.timeToCutoffBoundsSeconds)
        #expect(artifact.schema.timeToCutoffBoundsSeconds == Policy().sequences.timeToCutoffBoundsSeconds)
        #expect(artifact.formatVersion == 2 && artifact.architecture.tokenCounts == artifact.schema.tokenCounts)
        #expect(!artifact.architecture.headReadsEvents && card.sequence?.headReadsEvents == nil)  // not asked for
        #expect(!artifact.architecture.repeatPath && card.sequence?.repeatPath == nil)  // next_item's only
        let passes = try await fixture.context.models.describe(id: id).card["quality_gate"]?.objectValue?["passes"] == .bool(true)
        _ = try await fixture.context.models.approve(
            id: id, reviewer: "reviewer-1", note: "ok", qualityOverride: passes ? nil : "test model: quality is not the point")
        let prediction = try await fixture.context.predictionService().predict(
            userID: fixture.userIDs[0], task: .purchase, at: Self.at)
        #expect(prediction.score > 0 && prediction.score < 1 && prediction.modelId == id)
        #expect(card.metrics?.binary?.rocAUC != nil)
        #expect(Set(try #require(card.baselines).keys) == ["base_rate", "recency", "logistic"])
        #expect(card.baselines?["logistic"]?.binary?.rocAUC != nil)
        #expect(card.privateMetrics?.histogram == "binary_score_histogram" && card.privateMetrics?.metrics["roc_auc"] != nil)
        #expect(card.notes.contains { $0.hasPrefix("private_metrics are differentially private") })
        // Seeded, so the same file (and id) again.
        let again = try await fixture.trainer.train(Self.request(.purchase, model: model), principal: "cli")
        #expect(again.modelId == card.modelId)
    }

    /// Without a catalogue the vocabulary is selected with DP inside the run's one spend: one ledger
    /// entry composing steps, evaluation and selection (ε of the whole within the target), no
    /// `query.run` record, the selection's release named in `model.train`, and `audit verify` links the
    /// model to that spend and recomputes the ledger.
    @Test func selectionIsPaidInsideTheRunsOneSpend() async throws {
        let fixture = try await TrainingFixture(users: 1_500, totalEpsilon: 10)
        // Most of the ε to the selection: 1,500 users leave few items far above the threshold.
        var request = Self.request(.nextItem, epsilon: 4)
        request.vocabularyEpsilon = 3
        request.repeatPath = false
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(card.sequence?.repeatPath == nil)  // turned off
        let vocabulary = try #require(card.sequence?.vocabulary)
        #expect(vocabulary.source == .dpPartitionSelection && vocabulary.items > 0)
        #expect(vocabulary.items <= Policy().catalog.maxSelectedItems)
        #expect(abs(try #require(vocabulary.epsilon) - 3) < 1e-9)
        let split = try #require(card.privacySplit)
        guard case .composition(let parts) = split.charged else { throw VeilError(.integrity, field: "charged", "not a composition") }
        #expect(parts.count == 3 && parts[2].name == "thresholded")
        // The selection alone costs its ε (the query's calibration, within its tolerance); the whole
        // composes to at most the target, less than the sum of the parts alone.
        let selection = try #require(split.vocabularyEpsilon)
        #expect(abs(selection - 3) < 0.05)
        let epsilon = try #require(card.epsilon)
        #expect(epsilon <= 4 + 1e-9 && epsilon < split.trainingEpsilon + split.evaluationEpsilon + selection)
        #expect(card.privateMetrics?.histogram == "ranking_histogram")
        let spends = try await fixture.context.budget.status().spends
        #expect(spends.map(\.purpose) == ["train next_item model (gru) with private evaluation and DP item selection"])
        #expect(spends[0].id == vocabulary.spendId && abs(spends[0].epsilon - epsilon) < 1e-6)
        let actions = try await fixture.context.stores.chainActions()
        #expect(!actions.contains("query.run") && actions.last == "model.train")
        let verification = try await fixture.context.auditService().verify(publicKey: fixture.context.keys.auditSigningKey.publicKey)
        #expect(verification.failureDescription == nil, "\(verification.failureDescription ?? "")")
        #expect(verification.chain.linkage.modelsLinked == 1)
    }

    @Test func anApprovedSequenceModelServesPredictionsAndRecommendations() async throws {
        let fixture = try await Self.catalogued()
        let card = try await fixture.trainer.train(Self.request(.nextItem), principal: "cli")
        let predictor = fixture.context.predictionService()
        await #expect(throws: VeilError.self) { try await predictor.recommend([.userID(fixture.userIDs[0])], at: Self.at) }
        let id = try #require(card.modelId)
        // Another principal than the trainer approves; the quality gate's override only where it fails.
        let passes = try await fixture.context.models.describe(id: id).card["quality_gate"]?.objectValue?["passes"] == .bool(true)
        _ = try await fixture.context.models.approve(
            id: id, reviewer: "reviewer-1", note: "ok", qualityOverride: passes ? nil : "test model: quality is not the point")
        let nobody = Pseudonym(high: 1, low: 2)
        let lists = try await predictor.recommend(
            [.userID(fixture.userIDs[0]), .pseudonym(nobody)], k: 5, excludeSeen: true, at: Self.at)
        #expect(lists.count == 2)
        let items = try lists[0].get().items
        #expect(items.map(\.rank) == [1, 2, 3, 4, 5] && zip(items, items.dropFirst()).allSatisfy { $0.score >= $1.score })
        guard case .failed(let failure) = lists[1] else {
            Issue.record("a subject without events got a list")
            return
        }
        #expect(failure.code == .notFound && failure.index == 1 && failure.pseudonym == nobody.hex)
        let prediction = try await predictor.predict(userID: fixture.userIDs[0], task: .nextItem, at: Self.at)
        #expect(prediction.item != nil && prediction.category == nil)
        var csv = ""
        let summary = try await predictor.score(task: .nextItem, k: 2, at: Self.at, principal: "cli") { csv += $0 }
        #expect(csv.hasPrefix("pseudonym,rank,item,score\n"))
        #expect(csv.split(separator: "\n").count == 2 * summary.scored + 1)
        #expect(!csv.contains("user-0"))
        let file = String(decoding: try await fixture.context.models.artifact(id: card.modelId!), as: UTF8.self)
        #expect(!file.contains("user-0"))
    }

    /// `head_prior` on `next_category`: the run starts its head at the favourite category by sessions and the card
    /// names the prior; without it the card names none.
    @Test func nextCategoryStartsAtTheFavouriteCategoryWhenAsked() async throws {
        let fixture = try await Self.catalogued()
        var request = Self.request(.nextCategory)
        request.headPrior = true
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(card.sequence?.headPrior == "session_favourite_category" && card.sequence?.headReadsEvents == nil)
        #expect(Set(try #require(card.baselines).keys) == ["base_rate", "favourite_category", "session_favourite_category", "logistic"])
        let plain = try await fixture.trainer.train(Self.request(.nextCategory), principal: "cli")
        #expect(plain.sequence?.headPrior == nil)
    }

    /// next_item's own default batch (the policy's built-in `training.task_defaults`: 2,048) is more than
    /// the fixture's 400 users: the refusal names the field and the policy key the batch came from, and
    /// nothing is spent.
    @Test func nextItemsDefaultBatchAboveThePopulationNamesItsPolicyKey() async throws {
        let fixture = try await Self.catalogued()
        var request = Self.request(.nextItem)
        request.batchSize = nil
        await #expect {
            _ = try await fixture.trainer.train(request, principal: "cli")
        } throws: { error in
            guard let error = error as? VeilError else { return false }
            return error.field == "batch_size" && error.message.contains("training.task_defaults.next_item.batch_size")
        }
        #expect(try await fixture.context.budget.status().spends.isEmpty)
    }

    @Test func theSequenceRulesNameTheirField() async throws {
        let fixture = try await Self.catalogued()
        #expect(await fixture.refusedField(TrainingFixture.request(.nextItem)) == "model")
        let changes: [(field: String, change: @Sendable (inout TrainingRequest) -> Void)] = [
            ("hidden_sizes", { $0.hiddenSizes = [8, 8] }),
            ("sequence_length", { $0.sequenceLength = 51 }),
            ("embedding_width", { $0.embeddingWidth = 0 }),
            ("vocabulary_epsilon", { $0.vocabularyEpsilon = 2 }),
            ("evaluation", { $0.evaluation = .leaveLastOut }),  // next_item only
            ("head_prior", { $0.headPrior = true }),  // purchase has no prior
            ("repeat_path", { $0.repeatPath = true }),  // next_item only
        ]
        for (field, change) in changes {
            var request = Self.request(.purchase)
            change(&request)
            #expect(await fixture.refusedField(request) == field)
        }
        var logistic = TrainingFixture.request(.purchase)
        logistic.embeddingWidth = 8
        #expect(await fixture.refusedField(logistic) == "embedding_width")
        logistic.embeddingWidth = nil
        logistic.headReadsEvents = true
        #expect(await fixture.refusedField(logistic) == "head_reads_events")
        logistic.headReadsEvents = nil
        logistic.headPrior = true
        #expect(await fixture.refusedField(logistic) == "head_prior")
        logistic.headPrior = nil
        logistic.repeatPath = false
        #expect(await fixture.refusedField(logistic) == "repeat_path")
        var nextItemPrior = Self.request(.nextItem)
        nextItemPrior.headPrior = true
        #expect(await fixture.refusedField(nextItemPrior) == "head_prior")
        #expect(try await fixture.context.budget.status().spends.isEmpty)
    }

    /// Leave-last-out (`RankingSplit.leaveLastOut`): each user's last event with an item is held out;
    /// both sides keep the events before it, the training side has no target for the held-out item, an
    /// item outside the vocabulary has no name (so the metrics leave it out), and a user without an
    /// earlier event, or without any item, is left out.
    @Test func leaveLastOutHoldsOutEachUsersLastItem() throws {
        let schema = SequenceSchema(policy: Policy(), vocabulary: try ItemVocabulary(items: ["a", "b", "c"]))
        let fields = SequenceSchema.Field.allCases.count
        func events(_ items: [Int32]) -> [Int32] {
            items.flatMap { item in (0..<fields).map { $0 == SequenceSchema.Field.item.rawValue ? item : 0 } }
        }
        func user(_ low: UInt64, _ items: [Int32]) -> SequencePipeline.UserSequence {
            let outcome = Outcome(purchased: false, churned: false, nextCategory: nil, nextItem: "c")
            let pseudonym = Pseudonym(high: 0, low: low)
            return SequencePipeline.UserSequence(
                sequence: SequenceExample(pseudonym: pseudonym, tokens: events(items), outcome: outcome),
                row: UserExample(pseudonym: pseudonym, features: [], outcome: outcome))
        }
        // Item tokens: 0 none, 1 + the vocabulary index, 4 "other".
        let users = [user(1, [1, 0, 2, 0]), user(2, [3]), user(3, [2, 4]), user(4, [0, 0])]
        let (train, holdout) = SequencePipeline.leaveLastOut(users, schema: schema)
        #expect(train.map(\.sequence.pseudonym.low) == [1, 3] && holdout.map(\.sequence.pseudonym.low) == [1, 3])
        #expect(train.map(\.sequence.tokens) == [events([1, 0]), events([2])])
        #expect(holdout.map(\.sequence.tokens) == train.map(\.sequence.tokens))
        #expect(train.allSatisfy { $0.sequence.outcome.nextItem == nil })
        #expect(holdout.map(\.sequence.outcome.nextItem) == ["b", nil])
        let task = PredictionTask.nextItem.definition
        #expect(task.targets(train[0].sequence, schema: schema) == [-1, -1])
        #expect(task.targets(holdout[0].sequence, schema: schema) == [-1, 1])
    }

    /// `evaluation: leave_last_out` trains on every user's events before their last item and ranks that
    /// item for every user — more users than the keyed holdout's — with the baselines on the same users.
    @Test func leaveLastOutEvaluatesEveryUser() async throws {
        let fixture = try await Self.catalogued()
        var request = Self.request(.nextItem)
        let holdout = try await fixture.trainer.train(request, principal: "cli")
        request.evaluation = .leaveLastOut
        let card = try await fixture.trainer.train(request, principal: "cli")
        #expect(holdout.sequence?.evaluation == .holdoutUsers && card.sequence?.evaluation == .leaveLastOut)
        let ranking = try #require(card.metrics?.ranking)
        let users = try #require(card.holdoutCount)
        let heldOutUsers = try #require(holdout.holdoutCount)
        #expect(ranking.users == users && users > 2 * heldOutUsers)
        #expect(try #require(card.baselines).values.allSatisfy { $0.ranking?.users == ranking.users })
        #expect(card.privateMetrics?.histogram == "ranking_histogram")
    }

    /// A model file as `main` wrote it before sequence models (a card and a format-1 logistic
    /// artifact, `LegacyArtifactTests`'s first) still decodes to the feature-row network it held.
    @Test func aModelFileFromBeforeSequenceModelsStillLoads() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let features = String(decoding: try encoder.encode(FeatureSchema(policy: Policy())), as: UTF8.self)
        let legacy = #"""
            {"card":{"data_window":{"cutoff":"2026-02-26T00:00:00Z","horizon_days":14,"horizon_end":"2026-03-12T00:00:00Z"},"epsilon":1.5,"features":FEATURES,"is_private":true,"task":"purchase"},"model":{"class_count":2,"format_version":1,"hidden_activation":"relu","hidden_sizes":[],"input_size":3,"kind":"logistic_regression","output":"sigmoid","parameter_layout":"per layer from the input: weights input-major (w[i*outputs+o]), then biases","parameters":[-0.16050224069181446,0.9321878390857127,0.42291744407975423,-0.1835673325705876]}}
            """#.replacingOccurrences(of: "FEATURES", with: features)
        let stored = try ModelFile.decode(Data(legacy.utf8))
        guard case .rows(let artifact) = stored.model else {
            Issue.record("a logistic artifact must decode as a feature-row model")
            return
        }
        let network = try artifact.network()
        #expect(network.architecture.kind == "logistic_regression" && network.parameters.count == 4)
        #expect(stored.card.task == "purchase" && stored.card.epsilon == 1.5)
        // The same file from a build whose card names a feature this one does not compute is refused,
        // naming the field, before anything serves it.
        var newer = FeatureSchema(policy: Policy())
        newer.features.append(FeatureSchema.Feature(name: "share_of_tomorrow", upper: 1, scaling: .unit))
        let newerFile = legacy.replacingOccurrences(of: features, with: String(decoding: try encoder.encode(newer), as: UTF8.self))
        let error = try #require(throws: VeilError.self) { try ModelFile.decode(Data(newerFile.utf8)) }
        #expect(error.field == "features" && error.message.contains("upgrade Veil"))
    }
}
