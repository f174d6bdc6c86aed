import Foundation
import Testing
import VeilCore
import VeilStore
@testable import VeilModels

@Suite struct ModelRegistryTests {
    private let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-models-\(UUID().uuidString)").path
    private var registry: ModelRegistry {
        get throws {
            ModelRegistry(dataDirectory: dataDirectory, store: SQLiteModelStore(database: try VeilDatabase(directory: dataDirectory)), audit: nil)
        }
    }

    @Test func sameContentIsOneModelNamedByItsHash() throws {
        let registry = try registry
        let artifact = Data(#"{"weights":[1,2,3]}"#.utf8)
        let first = try registry.register(artifact: artifact, task: "purchase", isPrivate: true, epsilon: 2)
        let second = try registry.register(artifact: artifact, task: "purchase", isPrivate: true, epsilon: 2)
        #expect(first.id == second.id)
        #expect(first.id == ModelRegistry.modelID(of: artifact))
        #expect(first.id.count == 32)
        #expect(try registry.list().count == 1)
        #expect(try registry.artifact(id: first.id) == artifact)
    }

    @Test func onlyApprovedModelsServe() throws {
        let registry = try registry
        let model = try registry.register(artifact: Data("a".utf8), task: "churn", isPrivate: true, epsilon: 1)
        #expect(throws: VeilError.self) { try registry.serving(task: "churn") }
        _ = try registry.approve(id: model.id, reviewer: "reviewer-1", note: "looks fine")
        #expect(try registry.serving(task: "churn").id == model.id)
        let rejected = try registry.register(artifact: Data("b".utf8), task: "churn", isPrivate: true, epsilon: 1)
        _ = try registry.reject(id: rejected.id, reviewer: "reviewer-1", note: "AUC too low")
        #expect(try registry.serving(task: "churn").id == model.id)
    }

    @Test func aCandidateIsReviewedOnceAndNonPrivateNeverApproved() throws {
        let registry = try registry
        let model = try registry.register(artifact: Data("c".utf8), task: "purchase", isPrivate: true, epsilon: 1)
        _ = try registry.reject(id: model.id, reviewer: "r", note: "no")
        #expect(throws: VeilError.self) { try registry.approve(id: model.id, reviewer: "r", note: "changed my mind") }
        let open = try registry.register(artifact: Data("d".utf8), task: "purchase", isPrivate: false, epsilon: nil)
        do {
            _ = try registry.approve(id: open.id, reviewer: "r", note: "")
            Issue.record("a non-private model must not be approvable")
        } catch let error as VeilError {
            #expect(error.code == .forbidden)
        }
        #expect(throws: VeilError.self) { try registry.find(id: "00000000000000000000000000000000") }
    }

    @Test func alteredArtifactIsDetected() throws {
        let registry = try registry
        let model = try registry.register(artifact: Data("original".utf8), task: "purchase", isPrivate: true, epsilon: 1)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: "\(dataDirectory)/models/\(model.id).json"))
        do {
            _ = try registry.artifact(id: model.id)
            Issue.record("tampering must be detected")
        } catch let error as VeilError {
            #expect(error.code == .integrity)
        }
    }
}
