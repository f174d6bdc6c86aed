import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

/// TEST ONLY. Polls `GET /v1/training-runs/{id}` until the run has finished (at most about a minute).
func finishedRun(_ id: String, _ client: some TestClientProtocol, _ gateway: TestGateway) async throws -> [String: Any] {
    for _ in 0..<1200 {
        let run = try await client.execute(uri: "/v1/training-runs/\(id)", method: .get, headers: gateway.headers(.trainer)) { response in
            #expect(response.status == .ok)
            return object(response.body)
        }
        if run["status"] as? String != "running" { return run }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("training run \(id) did not finish")
    return [:]
}

/// TEST ONLY. Starts a training run over `ShopperEvents` as the trainer, waits for it, and returns the
/// id of the candidate model it registered.
func trainedModelID(_ client: some TestClientProtocol, _ gateway: TestGateway) async throws -> String {
    let runID = try await client.execute(
        uri: "/v1/training-runs", method: .post, headers: gateway.headers(.trainer), body: trainingBody()
    ) { try #require(object($0.body)["id"] as? String) }
    return try #require(try await finishedRun(runID, client, gateway)["model_id"] as? String)
}

/// A reviewer's approval body for `modelID`: `note`, and an override note when the card says the model
/// does not beat its baselines (`QualityGate`; whether a small seeded model does depends on the data).
func approvalBody(_ note: String, for modelID: String, _ client: some TestClientProtocol, _ gateway: TestGateway) async throws -> ByteBuffer {
    let passes: Bool? = try await client.execute(uri: "/v1/models/\(modelID)", method: .get, headers: gateway.headers(.reviewer)) {
        ((object($0.body)["card"] as? [String: Any])?["quality_gate"] as? [String: Any])?["passes"] as? Bool
    }
    try #require(passes != nil, "the card of \(modelID) has no quality gate")
    let override = passes == true ? "" : #","override_quality":"test model: quality is not the point""#
    return json(#"{"note":"\#(note)"\#(override)}"#)
}

/// A training request body over `ShopperEvents`.
func trainingBody(epsilon: Double = 1) -> ByteBuffer {
    json(#"{"task":"purchase","epsilon":\#(epsilon),"epochs":1,"batch_size":16,"cutoff_ms":\#(ShopperEvents.cutoffMillis),"seed":7}"#)
}

@Suite struct TrainingRunsEndpointTests {
    @Test func runStartsAt202AndFinishesWithAModelTheTrainerPaidFor() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 120))
        try await gateway.application().test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/training-runs", method: .post, headers: gateway.headers(.trainer), body: trainingBody()
            ) { response in
                #expect(response.status == .accepted)
                let run = object(response.body)
                #expect(run["status"] as? String == "running")
                #expect(run.keys.sorted() == ["id", "status"])
                let id = try #require(run["id"] as? String)
                #expect(response.headers[.location] == "/v1/training-runs/\(id)")
                return id
            }
            let run = try await finishedRun(id, client, gateway)
            #expect(run["status"] as? String == "succeeded", "\(run["error"] ?? "")")
            let modelID = try #require(run["model_id"] as? String)
            #expect((run["card"] as? [String: Any])?["model_id"] as? String == modelID)
            #expect(run["error"] == nil)
            // The run's last progress report stays: every step taken, ε so far, never a loss.
            let progress = try #require(run["progress"] as? [String: Any])
            #expect(progress["phase"] as? String == "evaluating")
            let steps = try #require(progress["total_steps"] as? Int)
            #expect(steps > 0 && progress["steps"] as? Int == steps && progress["epoch"] as? Int == progress["epochs"] as? Int)
            #expect((progress["epsilon_so_far"] as? Double ?? 0) > 0)
            #expect(!progress.keys.contains(where: { $0.contains("loss") }))
            #expect(try await gateway.context.models.find(id: modelID).state.rawValue == "candidate")
        }
        let spends = try await gateway.context.budget.status().spends
        #expect(spends.map(\.principal) == ["test-trainer"])
        #expect(spends.map(\.role) == ["trainer"])
    }

    @Test func budgetRefusalEndsTheRunAsFailedWithTheLedgersMessage() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 40))
        try await gateway.application().test(.router) { client in
            let id = try await client.execute(
                uri: "/v1/training-runs", method: .post, headers: gateway.headers(.trainer), body: trainingBody(epsilon: 5)
            ) { response in
                #expect(response.status == .accepted)
                return try #require(object(response.body)["id"] as? String)
            }
            let run = try await finishedRun(id, client, gateway)
            #expect(run["status"] as? String == "failed")
            #expect((run["error"] as? String)?.hasPrefix("budget.max_epsilon_per_request: refused: train purchase model") == true)
            #expect(run["model_id"] == nil)
        }
        #expect(try await gateway.context.models.list().isEmpty)
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }

    @Test(arguments: [
        (#"{"epsilon":1}"#, "task: is required"),
        (#"{"task":"lottery","epsilon":1}"#, "task: has an invalid value"),
        (#"{"task":"purchase"}"#, "epsilon: is required (a finite number > 0) unless non_private is set"),
        (#"{"task":"purchase","epsilon":-1}"#, "epsilon: must be a finite number > 0"),
        (#"{"task":"purchase","epsilon":1,"epochs":0}"#, "epochs: must be between 1 and 1000"),
        (#"{"task":"purchase","epsilon":1,"batch_size":"big"}"#, "batch_size: has the wrong type"),
    ])
    func invalidRequestIs422NamingTheFieldAndStartsNothing(body: String, message: String) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/training-runs", method: .post, headers: gateway.headers(.trainer), body: json(body)) {
                response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body) == #"{"error":"invalid_input","message":"\#(message)"}"#)
            }
        }
    }

    @Test func nonPrivateTrainingIs403WhenThePolicyForbidsIt() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/training-runs", method: .post, headers: gateway.headers(.trainer),
                body: json(#"{"task":"purchase","non_private":true}"#)
            ) { response in
                #expect(response.status == .forbidden)
                #expect((object(response.body)["message"] as? String)?.hasPrefix("non_private: ") == true)
            }
        }
    }

    @Test func unknownRunIs404() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/training-runs/nope", method: .get, headers: gateway.headers(.trainer)) { response in
                #expect(response.status == .notFound)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"not_found","message":"id: no training run with this id (runs are kept in memory until the server restarts)"}"#)
            }
        }
    }
}
