import Foundation
import Testing
import VeilCore
import VeilStore
import VeilTestSupport
@testable import VeilModels

@Suite struct ModelRegistryTests {
    private let dataDirectory = ScratchStores.directory()
    private let stores: StoreSet
    private let registry: ModelRegistry

    init() throws {
        stores = try ScratchStores.open(in: dataDirectory)
        registry = ModelRegistry(store: stores.models, artifacts: stores.artifacts)
    }

    /// A registration as training records it.
    private func register(
        _ artifact: Data, task: String, isPrivate: Bool = true, epsilon: Double? = 1, trainer: String = "trainer-1"
    ) async throws -> ModelRecord {
        try await registry.register(artifact: artifact, task: task, isPrivate: isPrivate, epsilon: epsilon, trainer: trainer) { id in
            AuditDraft(actor: trainer, action: .modelTrain, details: ["model_id": .string(id)])
        }
    }

    /// A model file whose card has ROC AUC `auc` against a base-rate (0.5) and a recency (`recency`)
    /// baseline; `tag` makes the bytes (and so the id) distinct.
    static func card(_ tag: String, auc: Double = 0.7, recency: Double = 0.6) -> Data {
        Data(
            #"{"card":{"tag":"\#(tag)","metrics":{"binary":{"roc_auc":\#(auc)}},"baselines":{"base_rate":{"binary":{"roc_auc":0.5}},"recency":{"binary":{"roc_auc":\#(recency)}}}}}"#
                .utf8)
    }

    @Test func sameContentIsOneModelNamedByItsHash() async throws {
        let artifact = Data(#"{"weights":[1,2,3]}"#.utf8)
        let first = try await register(artifact, task: "purchase", epsilon: 2)
        let second = try await register(artifact, task: "purchase", epsilon: 2)
        #expect(first.id == second.id)
        #expect(first.id == ModelRegistry.modelID(of: artifact))
        #expect(first.id.count == 32)
        #expect(try await registry.list().count == 1)
        #expect(try await registry.artifact(id: first.id) == artifact)
        #expect(try await stores.chainActions() == ["model.train", "model.train"])
    }

    /// As git abbreviates commits: a unique prefix of at least 4 characters names its model, an
    /// ambiguous one is refused listing every candidate, anything else names the rule.
    @Test func aUniquePrefixNamesItsModelAndAnAmbiguousOneListsTheCandidates() async throws {
        // Two artifacts whose ids share their first 4 hex characters (found by search; deterministic).
        var seen: [String: Data] = [:]
        var pair: (Data, Data)?
        for n in 0..<100_000 where pair == nil {
            let artifact = Data("artifact-\(n)".utf8)
            let prefix = String(ModelRegistry.modelID(of: artifact).prefix(4))
            if let other = seen[prefix] { pair = (other, artifact) } else { seen[prefix] = artifact }
        }
        let (first, second) = try #require(pair)
        let a = try await register(first, task: "purchase")
        let b = try await register(second, task: "churn")
        let shared = String(a.id.prefix(4))
        #expect(b.id.hasPrefix(shared))
        #expect(try await registry.resolve(a.id) == a.id)
        let unique = (5...32).map { String(a.id.prefix($0)) }.first { !b.id.hasPrefix($0) }!
        #expect(try await registry.resolve(unique) == a.id)
        do {
            _ = try await registry.resolve(shared)
            Issue.record("an ambiguous prefix must be refused")
        } catch let error as VeilError {
            #expect(error.code == .invalidInput && error.field == "model_id")
            #expect(error.message == "\(shared) is ambiguous: 2 model ids start with it (\([a.id, b.id].sorted().joined(separator: ", "))); give more characters")
        }
        for bad in ["abc", String(repeating: "a", count: 33), "ABCD", "wxyz"] {
            await #expect(throws: VeilError(.invalidInput, field: "model_id", "must be a model id or a unique prefix of one: 4 to 32 lowercase hex characters")) {
                try await registry.resolve(bad)
            }
        }
        let absent = (0..<16).map { String($0, radix: 16) }.map { $0 + "000" }.first { p in ![a.id, b.id].contains { $0.hasPrefix(p) } }!
        await #expect(throws: VeilError.self) { try await registry.resolve(absent) }
    }

    @Test func onlyApprovedModelsServe() async throws {
        let model = try await register(Self.card("a"), task: "churn")
        await #expect(throws: VeilError.self) { try await registry.serving(task: "churn") }
        _ = try await registry.approve(id: model.id, reviewer: "reviewer-1", note: "looks fine")
        #expect(try await registry.serving(task: "churn").id == model.id)
        let rejected = try await register(Self.card("b"), task: "churn")
        _ = try await registry.reject(id: rejected.id, reviewer: "reviewer-1", note: "AUC too low")
        #expect(try await registry.serving(task: "churn").id == model.id)
        #expect(try await stores.chainActions() == ["model.train", "model.approve", "model.train", "model.reject"])
    }

    @Test func aCandidateIsReviewedOnceAndNonPrivateNeverApproved() async throws {
        let model = try await register(Self.card("c"), task: "purchase")
        _ = try await registry.reject(id: model.id, reviewer: "r", note: "no")
        await #expect(throws: VeilError.self) { try await registry.approve(id: model.id, reviewer: "r", note: "changed my mind") }
        let open = try await register(Self.card("d"), task: "purchase", isPrivate: false, epsilon: nil)
        do {
            _ = try await registry.approve(id: open.id, reviewer: "r", note: "fine")
            Issue.record("a non-private model must not be approvable")
        } catch let error as VeilError {
            #expect(error.code == .forbidden)
        }
        await #expect(throws: VeilError.self) { try await registry.find(id: "00000000000000000000000000000000") }
    }

    @Test func whoTrainedAModelCannotApproveIt() async throws {
        let model = try await register(Self.card("e"), task: "purchase", trainer: "alice")
        #expect(model.trainer == "alice")
        let own = await #expect(throws: VeilError.self) { try await registry.approve(id: model.id, reviewer: "alice", note: "mine") }
        #expect(own?.code == .forbidden && own?.field == "reviewer")
        #expect(own?.message.hasPrefix("alice trained model \(model.id) and cannot approve it") == true, "\(String(describing: own))")
        #expect(try await registry.find(id: model.id).state == .candidate)
        let approved = try await registry.approve(id: model.id, reviewer: "bob", note: "checked by a second person")
        #expect(approved.state == .approved && approved.trainer == "alice" && approved.reviewer == "bob")
        #expect(try await stores.chainActions() == ["model.train", "model.approve"])
    }

    @Test func aModelWithoutARecordedTrainerIsNeverApproved() async throws {
        // As a store holds a model registered before Veil recorded trainers.
        let legacy = ModelRecord(id: "0123456789abcdef0123456789abcdef", task: "purchase", isPrivate: true, epsilon: 1, createdMillis: 1)
        _ = try await stores.models.register(legacy, audit: AuditDraft(actor: "cli", action: .modelTrain, details: [:]))
        let refused = await #expect(throws: VeilError.self) { try await registry.approve(id: legacy.id, reviewer: "bob", note: "ok") }
        #expect(refused?.code == .forbidden && refused?.message.contains("train it again, or reject it") == true)
        #expect(try await registry.reject(id: legacy.id, reviewer: "bob", note: "unknown provenance").state == .rejected)
    }

    @Test func aModelThatDoesNotBeatItsBaselinesIsApprovedOnlyWithAnOverride() async throws {
        let worse = try await register(Self.card("f", auc: 0.58, recency: 0.61), task: "purchase")
        let refused = await #expect(throws: VeilError.self) { try await registry.approve(id: worse.id, reviewer: "bob", note: "fine") }
        #expect(refused?.code == .invalidInput && refused?.field == "override_quality")
        #expect(refused?.message.contains("ROC AUC 0.5800 is not above the recency baseline's 0.6100") == true, "\(String(describing: refused))")
        let blank = await #expect(throws: VeilError.self) {
            try await registry.approve(id: worse.id, reviewer: "bob", note: "fine", qualityOverride: " ")
        }
        #expect(blank?.field == "override_quality")
        #expect(try await registry.find(id: worse.id).state == .candidate)
        let approved = try await registry.approve(id: worse.id, reviewer: "bob", note: "fine", qualityOverride: "A/B pilot on 1% of traffic")
        #expect(approved.state == .approved && approved.qualityOverride == "A/B pilot on 1% of traffic")
        let shown = try await registry.describe(id: worse.id)
        #expect(shown.card["quality_gate"]?.objectValue?["passes"] == .bool(false))
        #expect(shown.card["quality_gate"]?.objectValue?["override_note"] == .string("A/B pilot on 1% of traffic"))
        #expect(shown.card["quality_gate"]?.objectValue?["override_by"] == .string("bob"))

        let better = try await register(Self.card("g", auc: 0.7, recency: 0.6), task: "purchase")
        let needless = await #expect(throws: VeilError.self) {
            try await registry.approve(id: better.id, reviewer: "bob", note: "ok", qualityOverride: "just in case")
        }
        #expect(needless?.message.contains("there is nothing to override") == true)
        #expect(try await registry.approve(id: better.id, reviewer: "bob", note: "ok").qualityOverride == nil)
        #expect(try await registry.describe(id: better.id).card["quality_gate"]?.objectValue?["passes"] == .bool(true))
    }

    @Test func alteredArtifactIsDetected() async throws {
        let model = try await register(Data("original".utf8), task: "purchase")
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: "\(dataDirectory)/models/\(model.id).json"))
        do {
            _ = try await registry.artifact(id: model.id)
            Issue.record("tampering must be detected")
        } catch let error as VeilError {
            #expect(error.code == .integrity)
        }
    }
}
