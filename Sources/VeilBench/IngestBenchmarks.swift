import Foundation
import VeilCore
import VeilCrypto
import VeilIngest
import VeilStore

/// `veil ingest` throughput (issue 3): import of 1,000,000 generated events (time order, 50,000 users)
/// from an NDJSON file into a fresh data directory, through the real pipeline (parse → validate →
/// pseudonymise, handed to the writer's one transaction → escrow → SQLite). Reported until the import
/// is durable, and apart from it the WAL copy that follows. Env `VEIL_BENCH_BATCH`: events per
/// transaction of the batched path, taken when set (`oneTransactionLimit` 0).
enum IngestBenchmarks {
    static let eventCount = 1_000_000

    static let all: [Benchmark] = [
        Benchmark(name: "ingest") {
            let deployment = try await BenchDeployment.make()
            let file = deployment.root.appendingPathComponent("events.ndjson").path
            let bytes = try writeEvents(count: eventCount, users: 50_000, to: file)
            let store = deployment.context.events
            let service = deployment.context.ingestPipeline()
            var options = ImportOptions()
            if let size = BenchSettings.current.importBatchSize {
                options.batchSize = size
                options.oneTransactionLimit = 0
            }
            let importer = try EventImporter(service: service, options: options)
            let cpuBefore = Stopwatch.cpuSeconds()
            var report: ImportFileReport? = nil
            let seconds = try await Stopwatch.seconds { report = try await importer.importFile(file, actor: "bench") }
            guard let report, report.accepted == eventCount else {
                throw VeilError(.integrity, "the import stored \(report?.accepted ?? 0) of \(eventCount) events")
            }
            let cpu = Stopwatch.cpuSeconds() - cpuBefore
            // The import is durable when it returns; the WAL is copied into the database file in the
            // background afterwards. Wait for that too and report it apart.
            let checkpoint = try await store.settle()
            // A second import of the same file: every event is a duplicate.
            var again: ImportFileReport? = nil
            let reimport = try await Stopwatch.seconds { again = try await importer.importFile(file, actor: "bench") }
            deployment.remove()
            guard again?.duplicates == eventCount else { throw VeilError(.integrity, "the re-import was not all duplicates") }
            return [
                BenchResult(name: "ingest.import_ndjson_1m", value: Double(eventCount) / seconds, unit: "events/s"),
                BenchResult(name: "ingest.import_ndjson_1m.seconds", value: seconds, unit: "s"),
                BenchResult(name: "ingest.import_ndjson_1m.cpu_seconds", value: cpu, unit: "s"),
                BenchResult(name: "ingest.import_ndjson_1m.then_checkpoint_seconds", value: checkpoint, unit: "s"),
                BenchResult(name: "ingest.import_ndjson_1m.file_bytes", value: Double(bytes), unit: "bytes"),
                BenchResult(name: "ingest.reimport_duplicates_1m", value: Double(eventCount) / reimport, unit: "events/s"),
            ]
        },
        Benchmark(name: "ingest-batch") {
            // The HTTP path without HTTP: IngestService.ingestBatch on NDJSON bodies of 1,000 events.
            let deployment = try await BenchDeployment.make()
            let service = deployment.context.ingestPipeline()
            let batches = 200
            let bodies = (0..<batches).map { batch in
                Data((0..<1000).map { eventLine(batch * 1000 + $0, users: 20_000) }.joined().utf8)
            }
            var latencies: [Double] = []
            let total = try await Stopwatch.seconds {
                for body in bodies {
                    let start = ContinuousClock.now
                    _ = try await service.ingestBatch(body, format: .ndjson, actor: "bench")
                    latencies.append((ContinuousClock.now - start).seconds)
                }
            }
            deployment.remove()
            latencies.sort()
            return [
                BenchResult(name: "ingest.service_batch_1000", value: Double(batches * 1000) / total, unit: "events/s"),
                BenchResult(name: "ingest.service_batch_1000.p50", value: latencies[latencies.count / 2] * 1000, unit: "ms"),
                BenchResult(name: "ingest.service_batch_1000.p99", value: latencies[latencies.count * 99 / 100] * 1000, unit: "ms"),
            ]
        },
    ]

    static let types = ["view", "view", "view", "search", "click", "add_to_cart", "checkout", "purchase", "view_item", "review"]
    static let categories = ["electronics", "fashion", "home", "beauty", "sports", "books", "toys", "grocery"]

    /// One plausible event line (with a trailing newline), deterministic in `n`: from 2026-01-01,
    /// `secondsApart` seconds after event n − 1.
    static func eventLine(_ n: Int, users: Int, secondsApart: Int = 7) -> String {
        let user = (n &* 2_654_435_761) % users
        let type = types[n % types.count]
        let second = 1_767_225_600 + n * secondsApart
        let day = second / 86_400
        let (y, m, d) = CivilDate.civilFromDays(day)
        let secondOfDay = second % 86_400
        let timestamp = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, secondOfDay / 3600, secondOfDay / 60 % 60,
            secondOfDay % 60, n % 1000)
        var line = #"{"event_id":"ev-\#(n)","user_id":"customer-\#(user)@shop.example","type":"\#(type)","timestamp":"\#(timestamp)","session_id":"sess-\#(user)-\#(n / 20)","item_id":"sku-\#(n % 5000)","category":"\#(categories[n % 8])""#
        switch type {
        case "purchase", "add_to_cart": line += #","price":\#(n % 200).\#(n % 100),"quantity":\#(1 + n % 3)"#
        case "review": line += #","rating":\#(1 + n % 5)"#
        case "search": line += #","query":"red shoes size \#(n % 12)""#
        default: break
        }
        return line + "}\n"
    }

    /// Writes `count` events (numbered from `first`, `secondsApart` seconds apart) to `path` and returns
    /// the file size.
    static func writeEvents(count: Int, first: Int = 0, users: Int, secondsApart: Int = 7, to path: String) throws -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw VeilError(.unavailable, field: path, "cannot be created")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var buffer = ""
        var total = 0
        for n in first..<(first + count) {
            buffer += eventLine(n, users: users, secondsApart: secondsApart)
            if buffer.utf8.count > 1 << 20 {
                total += buffer.utf8.count
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        total += buffer.utf8.count
        try handle.write(contentsOf: Data(buffer.utf8))
        return total
    }
}
