import Foundation
import Testing

/// `docs/openapi.yaml` is the contract of `veil serve`: schemathesis (PyPI) generates requests from it
/// — valid and invalid — and checks every answer of a live server holding generated data, once per
/// role's token. Nothing may be a server error or fall outside the schema.
@Suite(.serialized) struct OpenAPIConformanceTests {
    typealias Installation = VeilInstallation

    /// The checks run: server errors, documented statuses, content types, headers and bodies, and that
    /// data breaking the schema (an unknown field, a wrong type) is refused.
    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
        "response_schema_conformance", "negative_data_rejection", "unsupported_method",
    ]

    /// Examples per operation and phase: enough to reach every status of every endpoint, few enough
    /// that six roles take a few minutes on two cores.
    static let maxExamples = 12

    @Test func schemathesisFindsNoServerErrorAndNoAnswerOutsideTheSchema() throws {
        let probe = try Self.run(["python3", "-c", "import schemathesis"])
        try #require(probe.status == 0, "schemathesis is needed: run scripts/install-deps.sh (python3 -m pip install schemathesis)")
        let installation = try Installation()
        // Generated shoppers, so reads, queries and training runs meet real data (small: training
        // runs schemathesis starts stay short).
        let data = installation.root.appendingPathComponent("shoppers.ndjson")
        let generated = try installation.run(["generate", "--users", "40", "--days", "60", "--seed", "5", "--out", data.path])
        #expect(generated.status == 0, "\(generated.stderr)")
        let imported = try installation.run(["ingest", data.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        let server = try installation.serve(log: "serve.log")
        defer { _ = server.stop() }

        let document = try CurlClient.send("GET", server.baseURL + "/openapi.json")
        #expect(document.status == 200)
        #expect(document.body.hasPrefix(#"{"components":"#))

        for role in ["ingest", "analyst", "trainer", "reviewer", "auditor", "admin"] {
            let token = try installation.token(role)
            let started = ContinuousClock.now
            let result = try Self.run([
                "schemathesis", "run", server.baseURL + "/openapi.json", "--checks", Self.checks.joined(separator: ","),
                "--max-examples", String(Self.maxExamples), "--workers", "1", "--seed", "11", "--no-shrink",
                "--phases", "examples,coverage,fuzzing", "--generation-database", "none", "--request-timeout", "30",
                "--header", "Authorization: Bearer \(token)", "--no-color",
            ])
            let summary = result.output.split(separator: "\n").filter {
                $0.contains("passed") || $0.contains("failed") || $0.contains("cases") || $0.contains("Test cases") || $0.contains("errors")
            }
            print("schemathesis as \(role) (\(String(format: "%.0f", (ContinuousClock.now - started) / .seconds(1))) s): \(summary.suffix(4).joined(separator: " | "))")
            #expect(result.status == 0, "schemathesis as \(role) found problems:\n\(result.output.suffix(6_000))")
        }
        #expect(server.process.isRunning, "veil serve died: \(server.stderr.suffix(500))")
        #expect(!server.stderr.contains("request failed"), "a 500 was logged: \(server.stderr.suffix(2_000))")
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["NO_COLOR": "1", "PYTHONWARNINGS": "ignore"]) { _, new in new }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("veil-schemathesis-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        process.currentDirectoryURL = FileManager.default.temporaryDirectory  // schemathesis writes .schemathesis/ there
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}
