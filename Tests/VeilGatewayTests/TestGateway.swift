import Foundation
import Hummingbird
import Logging
import VeilCore
import VeilCrypto
import VeilGateway
import VeilPolicy
import VeilAccess
import VeilRuntime
import VeilStore

/// TEST ONLY. A gateway over a real `VeilContext` in a fresh temporary directory (new keys, the
/// built-in policy or `policy`, SQLite, audit log) with one issued token per role. Every endpoint runs
/// the real use case over the context (`GatewayServices(context:)`); a test that injects a fault
/// replaces one of `services` and says so.
struct TestGateway {
    let directory: URL
    let context: VeilContext
    let tokens: TokenService
    let metrics: GatewayMetrics
    let logs: LogCapture
    /// A valid token for every role.
    let token: [Role: String]
    let policy: Policy
    var services: GatewayServices

    static func make(policy: Policy = Policy()) async throws -> TestGateway {
        let directory = try TemporaryDirectory.make()
        let keys = directory.appendingPathComponent("keys").path
        try KeyRing.initialize(directory: keys)
        let context = try await VeilContext.open(
            keysDirectory: keys, dataDirectory: directory.appendingPathComponent("data").path,
            policy: LoadedPolicy(policy: policy, hash: String(repeating: "0", count: 64), path: "built-in"), actor: "test")
        var issued: [Role: String] = [:]
        for role in Role.allCases {
            issued[role] = try await context.tokens.issue(name: "test-\(role)", role: role, actor: "test").token
        }
        return TestGateway(
            directory: directory, context: context, tokens: context.tokens, metrics: GatewayMetrics(), logs: LogCapture(),
            token: issued, policy: policy, services: GatewayServices(context: context))
    }

    /// The application on a free loopback port (`.live` tests) or in-process (`.router` tests).
    func application() -> some ApplicationProtocol {
        buildApplication(
            configuration: GatewayConfiguration(host: "127.0.0.1", port: 0, policy: policy),
            services: services, metrics: metrics, logger: logs.logger())
    }

    /// Headers for a request with `role`'s token and an optional content type.
    func headers(_ role: Role?, contentType: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        if let role, let value = token[role] { fields[.authorization] = "Bearer \(value)" }
        if let contentType { fields[.contentType] = contentType }
        return fields
    }

    /// Stores `ndjson` through the real ingest pipeline, bypassing HTTP.
    func ingest(_ ndjson: String) async throws {
        _ = try await context.ingestPipeline().ingestBatch(Data(ndjson.utf8), format: .ndjson, actor: "test")
    }

    /// The pseudonym the context's keys give `userID`.
    func pseudonym(_ userID: String) -> Pseudonym { context.keys.userPseudonymizer.pseudonym(for: userID) }

    /// The events stored for `userID`, read from the real store.
    func storedEvents(of userID: String) async throws -> [StoredEvent] {
        try await context.events.events(for: pseudonym(userID))
    }

    /// The ledger status as `veil budget --json` prints it: what `GET /v1/budget` must answer.
    func budgetStatusJSON() async throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(try await context.budget.status()), as: UTF8.self)
    }

    /// The body (`seq`, `time`, `actor`, `action`, `details`) of the audit chain's last record as a JSON
    /// object; empty if there is none.
    func lastAuditRecord() async throws -> [String: Any] {
        func object(_ text: String) throws -> [String: Any] {
            (try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }
        let head = try await context.stores.audit.head()
        guard let last = try await context.stores.audit.record(seq: head.seq), let body = try object(last.line)["body"] as? String else {
            return [:]
        }
        return try object(body)
    }
}

enum TemporaryDirectory {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("veil-gateway-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Newline-delimited valid `view` events with distinct `event_id`s `prefix-0…` for user `user`.
func ndjsonText(count: Int, prefix: String = "e", user: String = "alice@example.com") -> String {
    let lines = (0..<count).map {
        #"{"event_id":"\#(prefix)-\#($0)","user_id":"\#(user)","type":"view","timestamp":"2026-01-01T00:00:00Z"}"#
    }
    return lines.joined(separator: "\n") + "\n"
}

/// `ndjsonText` as a request body.
func ndjson(count: Int, prefix: String = "e", user: String = "alice@example.com") -> ByteBuffer {
    ByteBuffer(string: ndjsonText(count: count, prefix: prefix, user: user))
}
