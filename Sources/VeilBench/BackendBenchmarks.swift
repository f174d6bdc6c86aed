import Foundation
import Synchronization
import VeilCore
import VeilIngest
import VeilLedger
import VeilPolicy
import VeilPrivacy
import VeilRuntime
import VeilStore
import VeilTestSupport

/// PostgreSQL beside SQLite in one run (issue 13), each through the whole product (`VeilContext` on
/// the backend `--database-url` names):
/// - import of 1,000,000 generated events (50,000 users) until durable: the real pipeline, COPY into
///   PostgreSQL;
/// - the training scan: every event read once (`EventStore.scan`, chunks of 10,000), events/s and the
///   process's peak resident memory during the scan alone (VmHWM reset before it);
/// - spend reservation latency: 1,000 reservations from 50 concurrent tasks (pure ε = 1e-4 each),
///   p50 and p99.
///
/// PostgreSQL runs in a throwaway cluster on this machine over its unix socket
/// (`scripts/pg-cluster.sh start --bench`: shared_buffers = 1GB, max_wal_size = 8GB,
/// checkpoint_timeout = 30min, wal_buffers = 64MB, wal_level = minimal, work_mem = 64MB; fsync,
/// synchronous_commit and full_page_writes stay on — acknowledged means durable). It is skipped,
/// with a note on stderr, where PostgreSQL is not installed. `VEIL_BENCH_EVENTS` overrides the size.
enum BackendBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "backends") {
            let count = ProcessInfo.processInfo.environment["VEIL_BENCH_EVENTS"].flatMap { Int($0) } ?? 1_000_000
            var results = try await measure("sqlite", database: .sqlite, events: count)
            if let reason = PostgresTestCluster.unavailableReason {
                FileHandle.standardError.write(Data("backends: PostgreSQL skipped: \(reason)\n".utf8))
                return results
            }
            let cluster = try PostgresTestCluster(bench: true)
            defer { cluster.stop() }
            let url = try DatabaseURL(parsing: cluster.url)
            _ = try await StoreAdministration.migrate(url, dataDirectory: NSTemporaryDirectory())
            results += try await measure("postgres", database: url, events: count)
            return results
        }
    ]

    static func measure(_ backend: String, database: DatabaseURL, events count: Int) async throws -> [BenchResult] {
        let deployment = try await BenchDeployment.make(databaseURL: database)
        defer { deployment.remove() }
        let file = deployment.root.appendingPathComponent("events.ndjson").path
        _ = try IngestBenchmarks.writeEvents(count: count, users: 50_000, to: file)
        let importer = try EventImporter(service: deployment.context.ingestPipeline(), options: ImportOptions())
        var report: ImportFileReport? = nil
        let importSeconds = try await Stopwatch.seconds { report = try await importer.importFile(file, actor: "bench") }
        guard report?.accepted == count else { throw VeilError(.integrity, "the import stored \(report?.accepted ?? 0) of \(count) events") }
        _ = try await deployment.context.events.settle()

        ResidentMemory.resetPeak()
        let scanned = Mutex(0)
        let scanSeconds = try await Stopwatch.seconds {
            try await deployment.context.events.scan(.all, chunkSize: 10_000) { chunk in scanned.withLock { $0 += chunk.count } }
        }
        let scanPeak = ResidentMemory.peakBytes()
        guard scanned.withLock({ $0 }) == count else { throw VeilError(.integrity, "the scan read \(scanned.withLock { $0 }) of \(count) events") }

        let latencies = try await reservationLatencies(deployment.context.budget, tasks: 50, each: 20)
        let name = "backends.\(backend)"
        return [
            BenchResult(name: "\(name).import_until_durable", value: Double(count) / importSeconds, unit: "events/s"),
            BenchResult(name: "\(name).scan_all", value: Double(count) / scanSeconds, unit: "events/s"),
            BenchResult(name: "\(name).scan_all.peak_rss", value: scanPeak / 1_048_576, unit: "MiB"),
            BenchResult(name: "\(name).reserve_50_concurrent.p50", value: latencies[latencies.count / 2] * 1000, unit: "ms"),
            BenchResult(name: "\(name).reserve_50_concurrent.p99", value: latencies[latencies.count * 99 / 100] * 1000, unit: "ms"),
        ]
    }

    /// Seconds per reservation, sorted: `tasks` concurrent tasks reserving `each` times.
    static func reservationLatencies(_ budget: BudgetService, tasks: Int, each: Int) async throws -> [Double] {
        let request = BudgetRequest(principal: "bench", role: .analyst, purpose: "bench", mechanism: .pureEpsilon(epsilon: 1e-4))
        let all = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var latencies: [Double] = []
                    for _ in 0..<each {
                        let start = ContinuousClock.now
                        try await budget.reserve(request)
                        latencies.append((ContinuousClock.now - start).seconds)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        return all.sorted()
    }
}

/// The process's peak resident memory since the last `resetPeak` (Linux: VmHWM in /proc/self/status).
enum ResidentMemory {
    /// Starts a new peak (writing 5 to /proc/self/clear_refs resets VmHWM to the current RSS).
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// VmHWM in bytes, or 0 where it cannot be read.
    static func peakBytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) * 1024
        }
        return 0
    }
}
