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
    private func register(_ artifact: Data, task: String, isPrivate: Bool = true, epsilon: Double? = 1) async throws -> ModelRecord {
        try await registry.register(artifact: artifact, task: task, isPrivate: isPrivate, epsilon: epsilon) { id in
            AuditDraft(actor: "trainer-1", action: .modelTrain, details: ["model_id": .string(id)])
        }
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
        let model = try await register(Data("a".utf8), task: "churn")
        await #expect(throws: VeilError.self) { try await registry.serving(task: "churn") }
        _ = try await registry.approve(id: model.id, reviewer: "reviewer-1", note: "looks fine")
        #expect(try await registry.serving(task: "churn").id == model.id)
        let rejected = try await register(Data("b".utf8), task: "churn")
        _ = try await registry.reject(id: rejected.id, reviewer: "reviewer-1", note: "AUC too low")
        #expect(try await registry.serving(task: "churn").id == model.id)
        #expect(try await stores.chainActions() == ["model.train", "model.approve", "model.train", "model.reject"])
    }

    @Test func aCandidateIsReviewedOnceAndNonPrivateNeverApproved() async throws {
        let model = try await register(Data("c".utf8), task: "purchase")
        _ = try await registry.reject(id: model.id, reviewer: "r", note: "no")
        await #expect(throws: VeilError.self) { try await registry.approve(id: model.id, reviewer: "r", note: "changed my mind") }
        let open = try await register(Data("d".utf8), task: "purchase", isPrivate: false, epsilon: nil)
        do {
            _ = try await registry.approve(id: open.id, reviewer: "r", note: "")
            Issue.record("a non-private model must not be approvable")
        } catch let error as VeilError {
            #expect(error.code == .forbidden)
        }
        await #expect(throws: VeilError.self) { try await registry.find(id: "00000000000000000000000000000000") }
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
