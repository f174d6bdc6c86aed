import Foundation
import Hummingbird
import Logging
import VeilCore
import VeilCrypto
import VeilGateway
import VeilPolicy
import VeilService
import VeilStore

/// TEST ONLY. A gateway over a real `VeilContext` in a fresh temporary directory (new keys, the
/// built-in policy or `policy`, SQLite, audit log) with one issued token per role. Ingest and erasure
/// go to the recording fakes; every other endpoint runs the real use cases over the context.
struct TestGateway {
    let directory: URL
    let context: VeilContext
    let tokens: TokenService
    let ingestor: RecordingIngestor
    let eraser: RecordingEraser
    let metrics: GatewayMetrics
    let logs: LogCapture
    /// A valid token for every role.
    let token: [Role: String]
    let policy: Policy
    let services: GatewayServices

    static func make(policy: Policy = Policy(), maxBatchEvents: Int? = nil) async throws -> TestGateway {
        let directory = try TemporaryDirectory.make()
        let keys = directory.appendingPathComponent("keys").path
        try KeyRing.initialize(directory: keys)
        let context = try VeilContext(
            keysDirectory: keys, dataDirectory: directory.appendingPathComponent("data").path,
            policy: LoadedPolicy(policy: policy, hash: String(repeating: "0", count: 64), path: "built-in"), actor: "test")
        var issued: [Role: String] = [:]
        for role in Role.allCases {
            issued[role] = try await context.tokens.issue(name: "test-\(role)", role: role, actor: "test").token
        }
        let ingestor = RecordingIngestor(maxBatchEvents: maxBatchEvents ?? policy.ingest.maxBatchEvents)
        let eraser = RecordingEraser()
        var services = GatewayServices(context: context)
        services.ingestor = ingestor
        services.eraser = eraser
        return TestGateway(
            directory: directory, context: context, tokens: context.tokens, ingestor: ingestor, eraser: eraser,
            metrics: GatewayMetrics(), logs: LogCapture(), token: issued, policy: policy, services: services)
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

    /// Stores `ndjson` through the real ingest pipeline (not the recording fake).
    func ingest(_ ndjson: String) async throws {
        _ = try await context.ingestPipeline().ingestBatch(Data(ndjson.utf8), format: .ndjson, actor: "test")
    }
}

enum TemporaryDirectory {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("veil-gateway-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Newline-delimited events with distinct `event_id`s `prefix-0…` for user `user`.
func ndjson(count: Int, prefix: String = "e", user: String = "alice@example.com") -> ByteBuffer {
    let lines = (0..<count).map {
        #"{"event_id":"\#(prefix)-\#($0)","user_id":"\#(user)","type":"view","timestamp":"2026-01-01T00:00:00Z"}"#
    }
    return ByteBuffer(string: lines.joined(separator: "\n") + "\n")
}
