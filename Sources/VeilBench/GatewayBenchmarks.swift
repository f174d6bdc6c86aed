import AsyncHTTPClient
import Foundation
import VeilCore
import VeilGateway
import VeilIngest
import VeilRuntime

/// HTTP ingest through the real gateway on 127.0.0.1 (issue: ingestion): batches of 1,000 NDJSON
/// events from a concurrent client, reporting events/s and p50/p99 batch latency.
///
/// Each run gets a fresh `BenchDeployment`, an `ingest` token, and every use case of
/// `GatewayServices(context:)` except the `EventIngesting`, which its factory builds from the opened
/// `VeilContext` — the real pipeline (`context.ingestPipeline()`) or, for the gateway's own overhead,
/// `CountingIngestor`.
enum GatewayBenchmarks {
    /// Builds the use case under test from the services of a fresh data directory.
    typealias IngestorFactory = @Sendable (VeilContext) async throws -> any EventIngesting

    static let eventsPerBatch = 1_000
    static let batches = 200
    static let warmupBatches = 10
    static let concurrency = 8

    static func all(_ variants: [(name: String, factory: IngestorFactory)]) -> [Benchmark] {
        variants.map { variant in
            Benchmark(name: variant.name) { try await run(name: variant.name, factory: variant.factory) }
        }
    }

    private static func run(name: String, factory: IngestorFactory) async throws -> [BenchResult] {
        let deployment = try await BenchDeployment.make()
        defer { deployment.remove() }
        let context = deployment.context
        var services = GatewayServices(context: context)
        services.ingestor = try await factory(context)
        return try await post((0..<(warmupBatches + batches)).map(batchBody), through: services, of: context, name: name)
    }

    /// Posts `bodies` (NDJSON batches of `eventsPerBatch` events) to `POST /v1/events` of the real gateway
    /// over `services` with an `ingest` token: the first `warmupBatches` one at a time, the rest timed,
    /// `concurrency` in flight. Reports events/s and the batches' p50/p99 latency under `name`.
    static func post(
        _ bodies: [[UInt8]], through services: GatewayServices, of context: VeilContext, name: String
    ) async throws -> [BenchResult] {
        let token = try await context.tokens.issue(name: "bench", role: .ingest, actor: "bench").token
        let timed = bodies.count - warmupBatches
        return try await BenchGateway.serving(services, policy: context.policy.policy) { port in
            let client = LoadClient(url: "http://127.0.0.1:\(port)/v1/events", token: token)
            for body in bodies.prefix(warmupBatches) { _ = try await client.send(body) }
            let start = ContinuousClock.now
            let latencies = try await client.sendConcurrently(Array(bodies.dropFirst(warmupBatches)), concurrency: concurrency)
            let seconds = (ContinuousClock.now - start).seconds
            let sorted = latencies.sorted()
            return [
                BenchResult(name: "\(name).events_per_s", value: Double(timed * eventsPerBatch) / seconds, unit: "events/s"),
                BenchResult(name: "\(name).batch_p50", value: Percentile.of(sorted, 0.50) * 1e3, unit: "ms"),
                BenchResult(name: "\(name).batch_p99", value: Percentile.of(sorted, 0.99) * 1e3, unit: "ms"),
            ]
        }
    }

    /// One NDJSON batch of distinct events from 10,000 users, each event with its own `event_id`.
    static func batchBody(_ batch: Int) -> [UInt8] {
        let types = ["view", "search", "click", "add_to_cart", "checkout", "purchase"]
        var text = ""
        text.reserveCapacity(eventsPerBatch * 160)
        for i in 0..<eventsPerBatch {
            let n = batch * eventsPerBatch + i
            text += #"{"event_id":"bench-\#(n)","user_id":"customer-\#(n % 10_000)@shop.example","type":"\#(types[n % types.count])","timestamp":"2026-01-01T12:00:00Z","item_id":"sku-\#(n % 977)","category":"books","price":12.5,"quantity":1}"#
            text += "\n"
        }
        return Array(text.utf8)
    }
}

/// Posts bodies to one gateway endpoint with AsyncHTTPClient and times them.
struct LoadClient: Sendable {
    let url: String
    let token: String
    var contentType = "application/x-ndjson"
    /// The client; `HTTPClient.shared` keeps at most 8 HTTP/1.1 connections per host.
    var http: HTTPClient = .shared

    /// Posts `body`, reads the whole response and returns its status code.
    func post(_ body: [UInt8]) async throws -> UInt {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = .bytes(body)
        let response = try await http.execute(request, timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status.code
    }

    /// Seconds from sending `body` to reading the whole response; throws unless it is a 200.
    func send(_ body: [UInt8]) async throws -> Double {
        let start = ContinuousClock.now
        let status = try await post(body)
        guard status == 200 else {
            throw VeilError(.unavailable, "the gateway answered \(status) to a benchmark request")
        }
        return (ContinuousClock.now - start).seconds
    }

    /// Sends every body with `concurrency` requests in flight; returns each batch's latency.
    func sendConcurrently(_ bodies: [[UInt8]], concurrency: Int) async throws -> [Double] {
        try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var latencies: [Double] = []
                    for index in stride(from: worker, to: bodies.count, by: concurrency) {
                        latencies.append(try await send(bodies[index]))
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }
}

/// Measures the gateway alone: counts the NDJSON lines of a batch as accepted and stores nothing.
struct CountingIngestor: EventIngesting {
    func ingestBatch(_ body: Data, format: EventBatchFormat, actor: String) async throws -> IngestSummary {
        IngestSummary(accepted: Self.lines(in: body), duplicates: 0)
    }

    /// The number of newline bytes in `bytes`.
    static func lines(in bytes: some Sequence<UInt8>) -> Int {
        bytes.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }
}
