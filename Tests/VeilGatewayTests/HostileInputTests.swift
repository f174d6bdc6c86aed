import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VeilCore
@testable import VeilGateway

/// Issue 11: hostile request bodies and headers against the real services of a `TestGateway`. Every
/// refusal must come before anything is read, spent, started or stored, and no answer may echo the
/// input (an unknown key may be an email address).
@Suite struct HostileInputTests {
    /// The ledger and the audit log, to compare before and after a refused request.
    struct Snapshot: Equatable {
        let budget: String
        /// The audit chain's head: its last seq and hash.
        let audit: String

        init(_ gateway: TestGateway) async throws {
            budget = try await gateway.budgetStatusJSON()
            let head = try await gateway.context.stores.audit.head()
            audit = "\(head.seq) \(head.hash)"
        }
    }

    static let modelID = hostileModelID

    /// One misspelt or unknown field per endpoint with a body. Before the fix, `epsilonn` and `cutof`
    /// were ignored: the run started (202) and charged ε at the default cutoff.
    @Test(arguments: [
        ("/v1/training-runs", Role.trainer, #"{"task":"churn","epsilon":1,"epsilonn":2}"#,
         "body: field #3 is not a known field; the fields are batch_size, clipping_norm, cutoff, cutoff_ms, delta, embedding_width, epochs, epsilon, evaluation, head_prior, head_reads_events, hidden_sizes, horizon_days, learning_rate, model, non_private, repeat_path, seed, sequence_length, task, vocabulary_epsilon, window_days"),
        ("/v1/training-runs", Role.trainer, #"{"task":"churn","epsilon":1,"cutof":"2026-03-01"}"#,
         "body: field #3 is not a known field; the fields are batch_size, clipping_norm, cutoff, cutoff_ms, delta, embedding_width, epochs, epsilon, evaluation, head_prior, head_reads_events, hidden_sizes, horizon_days, learning_rate, model, non_private, repeat_path, seed, sequence_length, task, vocabulary_epsilon, window_days"),
        ("/v1/queries", Role.analyst, #"{"metric":"count_events","epsilon":1,"alice@example.com":1}"#,
         "body: field #3 is not a known field; the fields are bins, epsilon, from, group_by, lower, mechanism, metric, quantile, to, upper, value, where"),
        ("/v1/queries", Role.analyst, #"{"metric":"count_events","epsilon":1,"where":{"type":"view","catgory":"books"}}"#,
         "where: field #2 is not a known field; the fields are category, type"),
        ("/v1/queries/explain", Role.analyst, #"{"metric":"count_events","epsilon":1,"explain":true}"#,
         "body: field #3 is not a known field; the fields are bins, epsilon, from, group_by, lower, mechanism, metric, quantile, to, upper, value, where"),
        ("/v1/predict", Role.analyst, #"{"task":"purchase","user_id":"alice@example.com","userid":"x"}"#,
         "body: field #3 is not a known field; the fields are at, pseudonym, subjects, task, user_id"),
        ("/v1/predict", Role.analyst, #"{"task":"purchase","subjects":[{"user_id":"a"},{"pseudonym":"\#(hostileModelID)","bob@example.com":1}]}"#,
         "subjects[1]: field #2 is not a known field; the fields are pseudonym, user_id"),
        ("/v1/recommendations", Role.analyst, #"{"pseudonym":"\#(hostileModelID)","k":3,"alice@example.com":1}"#,
         "body: field #3 is not a known field; the fields are at, exclude_seen, k, pseudonym, subjects, user_id"),
        ("/v1/models/\(hostileModelID)/approve", Role.reviewer, #"{"note":"fine","alice@example.com":true}"#,
         "body: field #2 is not a known field; the fields are note, override_quality"),
        ("/v1/models/\(hostileModelID)/reject", Role.reviewer, #"{"notes":"typo","note":"fine"}"#,
         "body: field #1 is not a known field; the fields are note"),
    ])
    func anUnknownFieldIs422ByPositionAndCostsNothing(path: String, role: Role, body: String, message: String) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.ingest(ShopperEvents.ndjson(users: 20))
        let before = try await Snapshot(gateway)
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: path, method: .post, headers: gateway.headers(role, contentType: "application/json"), body: json(body)) {
                response in
                #expect(response.status == .unprocessableContent)
                #expect(String(buffer: response.body) == #"{"error":"invalid_input","message":"\#(message)"}"#)
                #expect(!String(buffer: response.body).contains("@example.com"))
            }
        }
        #expect(try await Snapshot(gateway) == before, "the ledger or the audit log changed")
        #expect(try await gateway.context.models.list().isEmpty)
    }

    /// `cutoff` takes the CLI's forms; a text the CLI would refuse, or both forms at once, is 422.
    @Test(arguments: [
        (#"{"task":"churn","epsilon":1,"cutoff":"2999-01-01"}"#, "cutoff: the label horizon (cutoff + 14 days) must have ended; choose an earlier cutoff"),
        (#"{"task":"churn","epsilon":1,"cutoff":"2999-01-01T00:00:00+02:00"}"#, "cutoff: the label horizon (cutoff + 14 days) must have ended; choose an earlier cutoff"),
        (#"{"task":"churn","epsilon":1,"cutoff":"2026-02-30"}"#, "cutoff: \(DateText.rule)"),
        (#"{"task":"churn","epsilon":1,"cutoff":"2026-03-01","cutoff_ms":1772323200000}"#, "cutoff: give either cutoff or cutoff_ms, not both"),
    ])
    func cutoffTakesTheCLIsDateForms(body: String, message: String) async throws {
        let gateway = try await TestGateway.make()
        let before = try await Snapshot(gateway)
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/training-runs", method: .post, headers: gateway.headers(.trainer), body: json(body)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(object(response.body)["message"] as? String == message)
            }
        }
        #expect(try await Snapshot(gateway) == before)
    }

    /// Foundation's JSONDecoder recurses; request bodies are parsed under a depth bound first.
    @Test func deepNestingInARequestBodyIs400NamingTheRule() async throws {
        let gateway = try await TestGateway.make()
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let nested = #"{"metric":"count_events","epsilon":1,"bins":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
        let before = try await Snapshot(gateway)
        try await gateway.application().test(.router) { client in
            for (path, role, body) in [
                ("/v1/queries", Role.analyst, deep), ("/v1/queries", .analyst, nested), ("/v1/predict", .analyst, deep),
                ("/v1/training-runs", .trainer, deep), ("/v1/models/\(Self.modelID)/approve", .reviewer, deep),
            ] {
                try await client.execute(uri: path, method: .post, headers: gateway.headers(role), body: json(body)) { response in
                    #expect(response.status == .badRequest)
                    let message = try #require(object(response.body)["message"] as? String)
                    #expect(message.hasPrefix("body: is not valid JSON: arrays and objects nest deeper than 32 levels (byte "))
                }
            }
            for contentType in ["application/json", "application/x-ndjson"] {
                try await client.execute(
                    uri: "/v1/events", method: .post, headers: gateway.headers(.ingest, contentType: contentType), body: json(deep)
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    let problems = try #require(object(response.body)["errors"] as? [[String: Any]])
                    #expect((problems.first?["message"] as? String)?.contains("nest deeper than 32 levels") == true)
                }
            }
        }
        #expect(try await Snapshot(gateway) == before)
        #expect(try await gateway.context.events.eventCount() == 0)
    }

    @Test func aKeyGivenTwiceIs400() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(
                uri: "/v1/queries", method: .post, headers: gateway.headers(.analyst),
                body: json(#"{"metric":"count_events","epsilon":0.1,"epsilon":4}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(object(response.body)["message"] as? String == "body: is not valid JSON: a key appears twice in one object (byte 39)")
            }
        }
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }

    /// The documented 405 (it was 404): the path exists, the method does not; `Allow` says which do.
    @Test(arguments: [
        ("/v1/events", HTTPRequest.Method.get, "POST"), ("/v1/budget", .post, "GET"), ("/v1/queries", .delete, "POST"),
        ("/v1/models/\(hostileModelID)", .post, "GET"), ("/v1/subjects/alice%40example.com", .get, "DELETE"), ("/healthz", .put, "GET"),
        ("/v1/training-runs", .patch, "GET, POST"), ("/openapi.json", .post, "GET"),
    ])
    func aWrongMethodOnAnExistingPathIs405WithAllow(path: String, method: HTTPRequest.Method, allow: String) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: path, method: method, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == allow)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"method_not_allowed","message":"this endpoint does not accept this method"}"#)
            }
            try await client.execute(uri: "/v1/nothing-here", method: method, headers: gateway.headers(.admin)) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    /// An unknown query parameter is an error too: `sinc=5` answered the whole log.
    @Test func anUnknownQueryParameterIs400() async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            try await client.execute(uri: "/v1/audit?sinc=5", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .badRequest)
                #expect(
                    String(buffer: response.body)
                        == #"{"error":"invalid_input","message":"query parameter #1 is not known; the only parameter is since"}"#)
            }
            try await client.execute(uri: "/v1/audit?since=0", method: .get, headers: gateway.headers(.auditor)) { response in
                #expect(response.status == .ok)
            }
        }
    }

    /// A compressed body was read as plain text; now it is refused before it is read.
    @Test(arguments: ["gzip", "deflate", "br", "identity, gzip"])
    func anEncodedBodyIs415(encoding: String) async throws {
        let gateway = try await TestGateway.make()
        try await gateway.application().test(.router) { client in
            var headers = gateway.headers(.ingest, contentType: "application/x-ndjson")
            headers[.contentEncoding] = encoding
            try await client.execute(uri: "/v1/events", method: .post, headers: headers, body: ndjson(count: 1)) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect((object(response.body)["message"] as? String)?.hasPrefix("Content-Encoding: ") == true)
            }
            var query = gateway.headers(.analyst, contentType: "application/json")
            query[.contentEncoding] = encoding
            try await client.execute(
                uri: "/v1/queries", method: .post, headers: query, body: json(#"{"metric":"count_events","epsilon":1}"#)
            ) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            var identity = gateway.headers(.ingest, contentType: "application/x-ndjson")
            identity[.contentEncoding] = "identity"
            try await client.execute(uri: "/v1/events", method: .post, headers: identity, body: ndjson(count: 1)) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(try await gateway.context.events.eventCount() == 1)
        #expect(try await gateway.context.budget.status().spends.isEmpty)
    }
}

/// A well-formed model id that names no model.
let hostileModelID = String(repeating: "ab", count: 16)
