import Foundation
import Testing

/// Issue 17 on the real `veil` binary and a real `veil serve`: `veil push` refuses a file that is not
/// NDJSON before sending anything, and shows a refused batch (422) grouped by rule at the file's lines.
@Suite(.serialized) struct PushCLITests {
    typealias Installation = VeilInstallation

    /// `veil push` sends NDJSON: a CSV file is refused before anything is sent, in one line.
    @Test func pushRefusesACSVFileUpFront() throws {
        let installation = try Installation()
        let token = installation.root.appendingPathComponent("ingest.token")
        try "not-a-token\n".write(to: token, atomically: true, encoding: .utf8)
        for file in ["clickstream.csv", "transactions.txt"] {
            // Port 9 (discard) has no gateway: the refusal must come before any connection.
            let result = try installation.run(["push", MappedImportCLITests.example(file), "--url", "http://127.0.0.1:9", "--token-file", token.path])
            #expect(result.status == 64)
            #expect(result.stderr.contains("is not NDJSON") && result.stderr.contains("veil ingest"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
    }

    /// A batch the gateway refuses (422) is shown grouped by rule at the file's line numbers; batches
    /// sent before it stay stored; no user ID is printed.
    @Test func pushSummarisesARefusedBatchByRuleAtFileLines() throws {
        let installation = try Installation()
        let tokenFile = installation.root.appendingPathComponent("ingest.token")
        try (try installation.token("ingest") + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
        var lines: [String] = []
        for index in 0..<1_500 {
            let type = index >= 1_000 && index % 2 == 0 ? "wishlist" : "view"
            lines.append(#"{"event_id":"p\#(index)","user_id":"visitor-\#(index % 50)","type":"\#(type)","timestamp":"2026-01-05T10:00:00Z"}"#)
            if index == 1_000 { lines.append("") }  // a blank line inside the refused batch shifts the lines after it
        }
        let file = installation.root.appendingPathComponent("events.ndjson")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let server = try installation.serve(log: "serve.log")
        let result = try installation.run([
            "push", file.path, "--url", server.baseURL, "--token-file", tokenFile.path, "--batch-size", "1000", "--concurrency", "1",
        ])
        #expect(server.stop() == 0)
        #expect(result.status != 0)
        let text = result.stdout + result.stderr
        #expect(text.contains("the gateway refused a batch of 500 events (422)"), "\(text)")
        // Events 1000, 1002, 1004 (0-based) are the file's lines 1001, 1004 and 1006: the blank line follows 1001.
        #expect(text.contains("— 250 lines (first: 1001, 1004, 1006)"), "\(text)")
        #expect(text.contains("unknown values: wishlist (250)"), "\(text)")
        #expect(try HostileInputCLITests.sqlite(installation.dataDirectory, "SELECT count(*) FROM events;", readOnly: true) == "1000\n")
        MappedImportCLITests.expectNoRawIDs(["visitor-"], outputs: [result], in: installation)
    }
}
