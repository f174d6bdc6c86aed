import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import VeilCore
import VeilCrypto
import VeilGateway
import VeilPolicy
import VeilService

/// HTTP ingest through the real gateway on 127.0.0.1 (issue: ingestion): batches of 1,000 NDJSON
/// events from a concurrent client, reporting events/s and p50/p99 batch latency.
///
/// Each run gets fresh keys, a fresh data directory, an `ingest` token, and the `EventIngesting` its
/// factory builds from the opened `VeilContext` — the real pipeline (`services.ingestPipeline()`) or,
/// for the gateway's own overhead, `CountingIngestor`.
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
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("veil-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let keysDirectory = root.appendingPathComponent("keys").path
        try KeyRing.initialize(directory: keysDirectory)
        let services = try VeilContext(
            keysDirectory: keysDirectory, dataDirectory: root.appendingPathComponent("data").path,
            policy: LoadedPolicy(policy: Policy(), hash: String(repeating: "0", count: 64), path: "(built-in)"), actor: "bench")
        let ingestor = try await factory(services)
        let token = try await services.tokens.issue(name: "bench", role: .ingest, actor: "bench").token
        let bodies = (0..<(warmupBatches + batches)).map(batchBody)

        var logger = Logger(label: "veil.bench")
        logger.logLevel = .warning
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(
            configuration: GatewayConfiguration(host: "127.0.0.1", port: 0, policy: services.policy.policy) { _, port in
                portContinuation.yield(port)
                portContinuation.finish()
            },
            services: GatewayServices(ingestor: ingestor, eraser: NoEraser(), authenticator: services.tokens),
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))

        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw VeilError(.unavailable, "the gateway did not start") }
            let client = LoadClient(url: "http://127.0.0.1:\(port)/v1/events", token: token)
            for body in bodies.prefix(warmupBatches) { _ = try await client.send(body) }
            let start = ContinuousClock.now
            let latencies = try await client.sendConcurrently(Array(bodies.dropFirst(warmupBatches)), concurrency: concurrency)
            let seconds = (ContinuousClock.now - start).seconds
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            let sorted = latencies.sorted()
            return [
                BenchResult(name: "\(name).events_per_s", value: Double(batches * eventsPerBatch) / seconds, unit: "events/s"),
                BenchResult(name: "\(name).batch_p50", value: percentile(sorted, 0.50) * 1e3, unit: "ms"),
                BenchResult(name: "\(name).batch_p99", value: percentile(sorted, 0.99) * 1e3, unit: "ms"),
            ]
        }
    }

    /// One NDJSON batch of distinct events from 10,000 users, each event with its own `event_id`.
    private static func batchBody(_ batch: Int) -> [UInt8] {
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

    private static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}

/// Sends batches to `/v1/events` with AsyncHTTPClient and times each one.
struct LoadClient: Sendable {
    let url: String
    let token: String

    /// Seconds from sending the batch to reading the whole 200 response.
    func send(_ body: [UInt8]) async throws -> Double {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = .bytes(body)
        let start = ContinuousClock.now
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw VeilError(.unavailable, "the gateway answered \(response.status.code) to a benchmark batch")
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
        IngestSummary(accepted: body.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }, duplicates: 0)
    }
}

/// The benchmark never erases.
struct NoEraser: SubjectErasing {
    func erase(userID: String, actor: String) async throws -> ErasureReport {
        throw VeilError(.unavailable, "erasure is not part of the benchmark")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
