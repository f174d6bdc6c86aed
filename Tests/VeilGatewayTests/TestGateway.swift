import Foundation
import Hummingbird
import Logging
import VeilCore
import VeilCrypto
import VeilGateway
import VeilService
import VeilStore

/// TEST ONLY. A gateway over a real token store in a fresh temporary SQLite database, with one
/// issued token per role, the recording fakes for the use cases, its own metrics and a log capture.
struct TestGateway {
    let directory: URL
    let tokens: TokenService
    let ingestor: RecordingIngestor
    let eraser: RecordingEraser
    let metrics: GatewayMetrics
    let logs: LogCapture
    /// A valid token for every role.
    let token: [Role: String]
    let policy: Policy

    static func make(policy: Policy = Policy(), maxBatchEvents: Int? = nil) async throws -> TestGateway {
        let directory = try TemporaryDirectory.make()
        let database = try VeilDatabase(directory: directory.path)
        let tokens = TokenService(store: SQLiteTokenStore(database: database), master: SecretBytes(randomCount: 32), audit: nil)
        var issued: [Role: String] = [:]
        for role in Role.allCases {
            issued[role] = try await tokens.issue(name: "test-\(role)", role: role, actor: "test").token
        }
        return TestGateway(
            directory: directory, tokens: tokens,
            ingestor: RecordingIngestor(maxBatchEvents: maxBatchEvents ?? policy.ingest.maxBatchEvents),
            eraser: RecordingEraser(), metrics: GatewayMetrics(), logs: LogCapture(), token: issued, policy: policy)
    }

    var services: GatewayServices {
        GatewayServices(ingestor: ingestor, eraser: eraser, authenticator: tokens)
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
