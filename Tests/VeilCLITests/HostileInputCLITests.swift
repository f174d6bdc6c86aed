import Foundation
import Testing
import VeilStore

/// Issue 11 on the real binaries: inputs that crashed `veil serve` and `veil ingest` (SIGSEGV from
/// recursion), HTTP framing that answered 500, and `veil ingest --dry-run`.
@Suite(.serialized) struct HostileInputCLITests {
    typealias Installation = VeilInstallation

    /// `[` × 200,000 then `]` × 200,000: about 400 KB, far under the body limit.
    static let deepNesting = Data((String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)).utf8)

    /// Before the fix this killed `veil serve` (SIGSEGV); the server must answer and keep serving.
    @Test func deepNestingNeitherCrashesTheServerNorIsStored() throws {
        let installation = try Installation()
        let (ingest, analyst) = (try installation.token("ingest"), try installation.token("analyst"))
        let server = try installation.serve(log: "serve.log")
        defer { _ = server.stop() }
        for contentType in ["application/json", "application/x-ndjson"] {
            let response = try CurlClient.send(
                "POST", server.baseURL + "/v1/events", token: ingest, contentType: contentType, body: Self.deepNesting)
            #expect(response.status == 422, "\(contentType): \(response.status) \(response.body.prefix(200))")
            #expect(response.body.contains("nest deeper than 32 levels"))
        }
        for path in ["/v1/queries", "/v1/predict"] {
            let response = try CurlClient.send(
                "POST", server.baseURL + path, token: analyst, contentType: "application/json", body: Self.deepNesting)
            #expect(response.status == 400, "\(path): \(response.status) \(response.body.prefix(200))")
            #expect(response.body.contains("nest deeper than 32 levels"))
        }
        #expect(server.process.isRunning, "veil serve died: \(server.stderr.suffix(500))")
        #expect(try CurlClient.send("GET", server.baseURL + "/healthz").status == 200)
        #expect(server.stop() == 0)
        let budget = try JSONSerialization.jsonObject(with: Data(try installation.run(["budget", "--json"]).stdout.utf8)) as? [String: Any]
        #expect((budget?["spends"] as? [Any])?.isEmpty == true, "a refused request spent budget")
    }

    /// Before the fix `veil ingest` exited 139 on this file; it must reject it (exit 1) naming the rule.
    @Test func deepNestingInAFileIsRejectedByVeilIngest() async throws {
        let installation = try Installation()
        let file = installation.root.appendingPathComponent("deep.ndjson")
        var contents = Data(#"{"user_id":"u1","type":"view","timestamp":"2026-01-05T10:00:00Z"}"#.utf8)
        contents.append(0x0A)
        contents.append(Self.deepNesting)
        try contents.write(to: file)
        let result = try installation.run(["ingest", file.path, "--json"])
        #expect(result.status == 1, "exit \(result.status): \(result.stderr.suffix(300))")
        #expect(result.stdout.contains("nest deeper than 32 levels"))
        #expect(try installation.run(["budget", "--json"]).status == 0)
        #expect(try installation.rowCount("events") == 0)
    }

    /// A policy, an audit log and a key file made of nesting or garbage: errors, never a crash.
    @Test func deepNestingInAPolicyOrAnAuditLineIsAnErrorNotACrash() throws {
        let installation = try Installation()
        let policy = installation.root.appendingPathComponent("deep.yaml")
        try Data(("budget: " + String(repeating: "[", count: 100_000)).utf8).write(to: policy)
        let checked = try installation.run(["policy", "check", policy.path])
        #expect(checked.status == 1, "exit \(checked.status): \(checked.stderr.suffix(300))")
        #expect((checked.stdout + checked.stderr).contains("nest deeper than 1000 levels"))

        let log = installation.root.appendingPathComponent("deep.log")
        try Self.deepNesting.write(to: log)
        let verified = try installation.run(["audit", "verify", "--file", log.path, "--public-key", "keys/audit.pub"])
        #expect(verified.status == 1, "exit \(verified.status): \(verified.stderr.suffix(300))")
        #expect((verified.stdout + verified.stderr).contains("nest deeper than"))

        try Self.deepNesting.write(to: installation.root.appendingPathComponent("big.pub"))
        let key = try installation.run(["audit", "verify", "--file", log.path, "--public-key", "big.pub"])
        #expect(key.status == 1 && key.stderr.contains("is larger than 1024 bytes"), "\(key.status): \(key.stderr)")
    }

    /// Malformed chunked framing and a body shorter than its Content-Length answered 500; they are
    /// the client's error (400), and the server goes on serving.
    @Test func brokenFramingIs400() throws {
        let installation = try Installation()
        let token = try installation.token("ingest")
        let server = try installation.serve(log: "serve.log")
        defer { _ = server.stop() }
        let head = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/x-ndjson\r\n"
        let chunked = head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
        let short = head + "Content-Length: 500\r\n\r\n" + #"{"event_id":"a"}"#
        for (name, request) in [("chunk size zz", chunked), ("short body", short)] {
            let answer = try RawHTTP.exchange(port: server.port, request: Data(request.utf8))
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(name): \(answer.prefix(300))")
            #expect(answer.contains(#""error":"invalid_input""#), "\(name): \(answer.prefix(300))")
        }
        #expect(server.process.isRunning)
        #expect(try CurlClient.send("GET", server.baseURL + "/healthz").status == 200)
        #expect(!server.stderr.contains("request failed"), "\(server.stderr.suffix(500))")
    }

    /// `--dry-run` reports what the import would do, and writes nothing: the audit log is byte for
    /// byte as it was, and the database file is byte for byte what a read-only command (`veil budget`)
    /// leaves on a copy of the same data directory (opening the database already touches the file
    /// when it has no write-ahead log: SQLite and GRDB's open, not the import), and holds the same rows.
    @Test func aDryRunWritesNothing() throws {
        let installation = try Installation()
        let first = installation.root.appendingPathComponent("first.ndjson")
        let lines = (0..<50).map { #"{"user_id":"raw-user-\#($0 % 7)","type":"view","timestamp":"2026-01-05T10:00:\#(String(format: "%02d", $0))Z"}"# }
        try (lines.prefix(30).joined(separator: "\n") + "\n").write(to: first, atomically: true, encoding: .utf8)
        #expect(try installation.run(["ingest", first.path]).status == 0)
        let all = installation.root.appendingPathComponent("all.ndjson")
        try (lines.joined(separator: "\n") + "\n").write(to: all, atomically: true, encoding: .utf8)

        let control = installation.root.appendingPathComponent("control")
        try FileManager.default.copyItem(at: installation.dataDirectory, to: control)
        let audit = installation.dataDirectory.appendingPathComponent("audit.log")
        let auditBefore = try Data(contentsOf: audit)
        let rowsBefore = try Self.dump(installation.dataDirectory)
        let readOnly = try VeilProcess.run(
            ["budget", "--json"], in: installation.root, environment: installation.environment.merging(["VEIL_DATA_DIR": "control"]) { _, new in new })
        #expect(readOnly.status == 0, "\(readOnly.stderr)")

        let dry = try installation.run(["ingest", all.path, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any]
        #expect(report?["accepted"] as? Int == 20)
        #expect(report?["duplicates"] as? Int == 30)
        #expect(try Data(contentsOf: audit) == auditBefore, "a dry run changed the audit log")
        #expect(try Self.dump(installation.dataDirectory) == rowsBefore, "a dry run changed the stored rows")
        // Byte for byte, once each write-ahead log is copied into its database file (what SQLite sees
        // is the file plus its WAL; a checkpoint makes the file alone hold it).
        for directory in [installation.dataDirectory, control] { try Self.sqlite(directory, "PRAGMA wal_checkpoint(TRUNCATE);") }
        #expect(
            try Data(contentsOf: installation.dataDirectory.appendingPathComponent("veil.sqlite"))
                == Data(contentsOf: control.appendingPathComponent("veil.sqlite")),
            "a dry run changed the database file more than opening it does")

        let real = try installation.run(["ingest", all.path, "--json"])
        let stored = try JSONSerialization.jsonObject(with: Data(real.stdout.utf8)) as? [String: Any]
        #expect(stored?["accepted"] as? Int == 20 && stored?["duplicates"] as? Int == 30)
    }

    /// Every row of every table, as `sqlite3 .dump` prints it (an independent reader).
    static func dump(_ dataDirectory: URL) throws -> String { try sqlite(dataDirectory, ".dump", readOnly: true) }

    /// What the sqlite3 shell prints for `command` on the data directory's database.
    @discardableResult
    static func sqlite(_ dataDirectory: URL, _ command: String, readOnly: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3"] + (readOnly ? ["-readonly"] : []) + [dataDirectory.appendingPathComponent("veil.sqlite").path, command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "sqlite3 is needed (apt-get install sqlite3)")
        return String(decoding: data, as: UTF8.self)
    }
}

/// One HTTP/1.1 exchange over a plain socket: the bytes exactly as given (curl will not send a
/// malformed chunk), then the write side is shut and everything the server answers is read.
enum RawHTTP {
    static func exchange(port: Int, request: Data, timeoutSeconds: Int = 20) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        shutdown(descriptor, Int32(SHUT_WR))
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = recv(descriptor, &buffer, buffer.count, 0)
            if got <= 0 { break }
            answer.append(contentsOf: buffer[0..<got])
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
