import AsyncHTTPClient
import Foundation
import VeilCore
import VeilIngest

/// Sends NDJSON events to a Veil gateway's `POST /v1/events` in batches, several at a time, as a
/// storefront would. Each batch is retried on `503` (after `Retry-After`) and on connection errors; any
/// other non-200 answer stops the upload with the server's error body.
///
/// HTTP goes through AsyncHTTPClient (SwiftNIO). Foundation's `URLSession` on Linux (libcurl, body read
/// in small chunks across threads) took more CPU than the gateway itself and halved ingest throughput
/// on a 2-core host.
struct EventUploader {
    struct Summary: Encodable {
        var batches = 0
        var events = 0
        var accepted = 0
        var duplicates = 0
        var retries = 0
        var seconds = 0.0
        var eventsPerSecond = 0.0
        var batchLatencyP50Milliseconds = 0.0
        var batchLatencyP99Milliseconds = 0.0

        enum CodingKeys: String, CodingKey {
            case batches, events, accepted, duplicates, retries, seconds
            case eventsPerSecond = "events_per_second"
            case batchLatencyP50Milliseconds = "batch_latency_p50_ms"
            case batchLatencyP99Milliseconds = "batch_latency_p99_ms"
        }
    }

    struct Rejected: Error, CustomStringConvertible {
        let status: Int
        let body: String
        var description: String { "the gateway answered \(status): \(body)" }
    }

    /// A batch the gateway refused with 422 (nothing of it stored): its problems grouped by rule, placed
    /// at the file's lines.
    struct BatchRefused: Error, CustomStringConvertible {
        let batch: NDJSONBatch
        let summary: ProblemSummary

        var description: String {
            var placed = summary
            for index in placed.groups.indices { placed.groups[index].first = placed.groups[index].first.map(batch.line(ofEvent:)) }
            let head = "\(batch.file): the gateway refused a batch of \(batch.count) events (422); nothing of that batch was stored, batches sent before it were"
            return ([head] + ProblemText.lines(placed, unit: "line")).joined(separator: "\n")
        }
    }

    let endpoint: URL
    let token: String
    let concurrency: Int
    let maxRetries = 10

    /// Uploads `batches`; `progress` gets the events sent so far.
    func upload(_ batches: [NDJSONBatch], progress: @escaping @Sendable (Int) -> Void) async throws -> Summary {
        let start = ContinuousClock.now
        var summary = Summary()
        var latencies: [Double] = []
        try await withThrowingTaskGroup(of: (BatchResult, Double, Int).self) { group in
            var next = 0
            func launch() {
                guard next < batches.count else { return }
                let batch = batches[next]
                next += 1
                group.addTask {
                    let clock = ContinuousClock.now
                    let result = try await send(batch)
                    let elapsed = ContinuousClock.now - clock
                    return (result, elapsed.milliseconds, batch.count)
                }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            while let (result, milliseconds, count) = try await group.next() {
                summary.batches += 1
                summary.events += count
                summary.accepted += result.accepted
                summary.duplicates += result.duplicates
                summary.retries += result.retries
                latencies.append(milliseconds)
                progress(summary.events)
                launch()
            }
        }
        let elapsed = ContinuousClock.now - start
        summary.seconds = elapsed.seconds
        summary.eventsPerSecond = summary.seconds > 0 ? Double(summary.events) / summary.seconds : 0
        latencies.sort()
        summary.batchLatencyP50Milliseconds = Self.percentile(latencies, 0.50)
        summary.batchLatencyP99Milliseconds = Self.percentile(latencies, 0.99)
        return summary
    }

    private struct BatchResult: Decodable {
        var accepted = 0
        var duplicates = 0
        var retries = 0
        enum CodingKeys: String, CodingKey { case accepted, duplicates }
    }

    private func send(_ batch: NDJSONBatch) async throws -> BatchResult {
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = .bytes(batch.body)
        var attempt = 0
        while true {
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                let data = Data((try await response.body.collect(upTo: 16 << 20)).readableBytesView)
                switch response.status.code {
                case 200:
                    // The strict decoder: a hostile server's answer cannot exhaust the stack either.
                    var result = try StrictJSONDecoder(limits: JSONLimits(maxBytes: 16 << 20)).decode(BatchResult.self, from: data)
                    result.retries = attempt
                    return result
                case 503 where attempt < maxRetries:
                    let wait = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 1
                    try await Task.sleep(for: .seconds(wait))
                case 422:
                    guard let problems = try? StrictJSONDecoder(limits: JSONLimits(maxBytes: 16 << 20)).decode(EventProblemsBody.self, from: data) else {
                        throw Rejected(status: 422, body: String(decoding: data, as: UTF8.self))
                    }
                    throw BatchRefused(batch: batch, summary: problems.summary)
                default:
                    throw Rejected(status: Int(response.status.code), body: String(decoding: data, as: UTF8.self))
                }
            } catch let error
                where attempt < maxRetries && !(error is Rejected) && !(error is BatchRefused) && !(error is CancellationError)
                && !(error is DecodingError)
                && !(error is JSONSyntaxError) && !(error is UnknownJSONField)
            {
                try await Task.sleep(for: .milliseconds(200 * (attempt + 1)))  // connection errors: retry
            }
            attempt += 1
        }
    }

    private static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}

/// A batch of NDJSON events from one file, with where its events are in the file.
struct NDJSONBatch: Sendable {
    var file: String
    var body: Data
    var count: Int
    /// The file's line number of the batch's first event.
    var firstLine: Int
    /// Blank lines inside the batch's stretch of the file (skipped, not sent), ascending.
    var blankLines: [Int] = []

    /// The file line of the event at 0-based `position` in the batch.
    func line(ofEvent position: Int) -> Int {
        var line = firstLine + position
        for blank in blankLines where blank <= line { line += 1 }
        return line
    }
}

/// Splits NDJSON bytes into batches of at most `size` non-empty lines, without parsing them.
enum NDJSONBatches {
    static func split(_ data: Data, file: String, size: Int) -> [NDJSONBatch] {
        var batches: [NDJSONBatch] = []
        var current = NDJSONBatch(file: file, body: Data(), count: 0, firstLine: 1)
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var lineStart = 0
            var line = 0
            for index in 0...bytes.count {
                guard index == bytes.count || bytes[index] == UInt8(ascii: "\n") else { continue }
                line += 1
                if index > lineStart {
                    if current.count == 0 { current.firstLine = line }
                    current.body.append(contentsOf: bytes[lineStart..<index])
                    current.body.append(UInt8(ascii: "\n"))
                    current.count += 1
                    if current.count == size {
                        batches.append(current)
                        current = NDJSONBatch(file: file, body: Data(), count: 0, firstLine: line + 1)
                    }
                } else if current.count > 0, index < bytes.count {
                    current.blankLines.append(line)
                }
                lineStart = index + 1
            }
        }
        if current.count > 0 { batches.append(current) }
        return batches
    }

    /// Why `data` cannot be NDJSON events, judged from its first non-blank byte (an event line starts
    /// with `{`): a CSV file's header, for one. Nil when it may be.
    static func refusal(_ data: Data, file: String) -> String? {
        let extensionName = (file as NSString).pathExtension.lowercased()
        let looksLikeCSV = ["csv", "tsv"].contains(extensionName)
        let first = data.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        guard looksLikeCSV || (first != nil && first != UInt8(ascii: "{")) else { return nil }
        return "\(file): is not NDJSON (\(looksLikeCSV ? "a .\(extensionName) file" : "its first line is not a JSON object")); veil push sends one JSON event per line — import CSV with `veil ingest \(file) --mapping FILE` instead"
    }
}
