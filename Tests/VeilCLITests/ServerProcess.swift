import Foundation
import VeilTestSupport

/// A `veil serve` child process on 127.0.0.1 with port 0, as an operator starts it. Its stderr (the
/// `listening on` line and the request logs) goes to a file, so it can be read after the process is
/// gone — including after `kill -9`.
final class ServerProcess {
    let process: Subprocess.Child
    let stderrFile: URL
    private(set) var port = 0

    /// Starts `veil serve --host 127.0.0.1 --port 0 arguments...` in `directory` and waits (up to
    /// 60 s) for it to print the port it listens on. Throws if it exits or stays silent.
    init(_ arguments: [String], in directory: URL, stderrFile: URL, environment: [String: String] = [:]) throws {
        self.stderrFile = stderrFile
        process = try VeilProcess.launch(
            ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments, in: directory, environment: environment, stderrFile: stderrFile)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            if let port = Self.listeningPort(in: stderr) {
                self.port = port
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "veil serve did not start: \(stderr)"])
    }

    /// A server a test left running (it threw before stopping it) is killed with the test.
    deinit {
        if process.isRunning { kill9() }
    }

    /// Everything the server has written to stderr so far.
    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `kill -9`: no chance to finish anything.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits for the exit status.
    @discardableResult
    func stop() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    private static func listeningPort(in text: String) -> Int? {
        guard let range = text.range(of: "listening on http://127.0.0.1:") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        guard text[range.upperBound...].dropFirst(digits.count).first?.isNewline == true else { return nil }
        return Int(digits)
    }
}

/// HTTP requests with curl, a client independent of the server's own stack.
enum CurlClient {
    struct Response {
        /// 0 when no response arrived (connection refused or reset, e.g. the server was killed).
        let status: Int
        let body: String
        /// The response's header fields, names in lowercase.
        var headers: [String: String] = [:]
    }

    /// `method url` with an optional bearer token and body (sent from a temporary file, exactly as given).
    static func send(
        _ method: String, _ url: String, token: String? = nil, contentType: String? = nil, body: Data? = nil
    ) throws -> Response {
        let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("veil-curl-\(UUID().uuidString).headers")
        defer { try? FileManager.default.removeItem(at: headerFile) }
        var arguments = ["-s", "-X", method, "--max-time", "60", "-w", "\n%{http_code}", "-D", headerFile.path]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let contentType { arguments += ["-H", "Content-Type: \(contentType)"] }
        var bodyFile: URL?
        if let body {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("veil-curl-\(UUID().uuidString)")
            try body.write(to: file)
            bodyFile = file
            arguments += ["--data-binary", "@\(file.path)"]
        }
        defer { if let bodyFile { try? FileManager.default.removeItem(at: bodyFile) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl"] + arguments + [url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let newline = text.lastIndex(of: "\n") else { return Response(status: 0, body: text) }
        return Response(
            status: Int(text[text.index(after: newline)...]) ?? 0, body: String(text[..<newline]),
            headers: headers(in: (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""))
    }

    /// The fields of the last header block curl dumped (`-D`): `name: value` lines after the status line.
    private static func headers(in dump: String) -> [String: String] {
        let block = dump.components(separatedBy: "\r\n\r\n").last { !$0.isEmpty } ?? ""
        var fields: [String: String] = [:]
        for line in block.components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
