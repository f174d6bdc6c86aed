import ArgumentParser
import Foundation

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Send NDJSON event files to a running Veil gateway over HTTP, as a storefront would.",
        discussion: """
            Batches go to POST <url>/v1/events with an ingest token, several at once. A batch is \
            retried on 503 (honouring Retry-After); any other error stops the upload. A refused batch \
            (422) is summarised by rule, with the file's line numbers; other errors print the gateway's \
            body. Re-sending a file adds nothing: event_id makes batches idempotent. CSV files are \
            refused before anything is sent: import them with veil ingest and a mapping.

            Example:
              veil push events.ndjson --url http://127.0.0.1:8080 --token-file ingest.token --batch-size 1000
            """
    )

    @Argument(help: ArgumentHelp("NDJSON files, one event per line.", valueName: "file"))
    var files: [String]

    @Option(help: "Base URL of the gateway.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "File holding an ingest token (env VEIL_TOKEN is used when neither token option is given).")
    var tokenFile: String?

    @Option(help: "Events per HTTP request (at most the policy's ingest.max_batch_events).")
    var batchSize = 1000

    @Option(help: "Requests in flight at once.")
    var concurrency = 4

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one NDJSON file") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 64") }
        guard URL(string: url)?.scheme?.hasPrefix("http") == true else { throw ValidationError("--url must be an http(s) URL") }
    }

    func run() async throws {
        let token = try readToken()
        let endpoint = URL(string: url)!.appendingPathComponent("v1").appendingPathComponent("events")
        var batches: [NDJSONBatch] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(file): cannot be read")
            }
            if let refusal = NDJSONBatches.refusal(data, file: file) {
                Output.note("Error: " + refusal)  // one line, without the usage text a ValidationError adds
                throw ExitCode.validationFailure
            }
            batches += NDJSONBatches.split(data, file: file, size: batchSize)
        }
        let total = batches.reduce(0) { $0 + $1.count }
        let progress = ProgressLine(total: total, label: "events sent")
        let summary = try await EventUploader(endpoint: endpoint, token: token, concurrency: concurrency)
            .upload(batches) { sent in progress.update(sent) }
        progress.finish()
        if output.json {
            try Output.json(summary)
        } else {
            print(
                "sent \(summary.events) events in \(summary.batches) batches: \(summary.accepted) accepted, \(summary.duplicates) duplicates, "
                    + String(format: "%.0f events/s, batch latency p50 %.1f ms, p99 %.1f ms", summary.eventsPerSecond,
                        summary.batchLatencyP50Milliseconds, summary.batchLatencyP99Milliseconds))
        }
    }

    private func readToken() throws -> String {
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw ValidationError("--token-file \(tokenFile): cannot be read")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let token = Environment.value("VEIL_TOKEN") else {
            throw ValidationError("give --token-file FILE or set VEIL_TOKEN to an ingest token (`veil tokens issue --role ingest`)")
        }
        return token
    }
}
