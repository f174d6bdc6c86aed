import Foundation
import VeilLearning

// VeilBench: run with `swift run -c release VeilBench [name-prefix ...]`.
// Prints one JSON object per line: {"name": ..., "value": ..., "unit": ...}.
let groups: [[Benchmark]] = [
    CryptoBenchmarks.all,
    SynthBenchmarks.all,
    PrivacyBenchmarks.all,
    LearningBenchmarks.all,
    FeatureBenchmarks.all,
    AuditBenchmarks.all,
    IngestBenchmarks.all,
    GatewayBenchmarks.all([
        // The real pipeline over SQLite.
        (name: "http_ingest", factory: { services in services.ingestPipeline() }),
        // The gateway alone: HTTP, token check, body collection; the batch is counted, not stored.
        (name: "http_gateway_only", factory: { _ in CountingIngestor() }),
    ]),
    HTTPFloorBenchmarks.all,
    PredictBenchmarks.all,
    QueryBenchmarks.all,
    QualityBenchmarks.all,
    BackendBenchmarks.all,
    ScaleBenchmarks.all,
]

do {
    try KernelCap.check()
    _ = BenchSettings.current  // stops here, exit 2, where a setting breaks its rule
} catch {
    FileHandle.standardError.write(Data("VeilBench: \(error)\n".utf8))
    exit(2)
}

let filters = Array(CommandLine.arguments.dropFirst())
/// Run only when named: minutes of work on 50,000 synthetic users, or on millions of events (`make scale`),
/// and the probes of what a replica's HTTP ingest costs (`replica_ingest`, `http_floor`).
let explicitOnly = ["quality", "backends", "replica_ingest", "http_floor", "ledger", "scale"]
for benchmark in groups.joined()
where filters.isEmpty
    ? !explicitOnly.contains(where: { benchmark.name.hasPrefix($0) })
    : filters.contains(where: { benchmark.name.hasPrefix($0) }) {
    do {
        for result in try await benchmark.run() { result.print() }
    } catch {
        FileHandle.standardError.write(Data("\(benchmark.name): \(error)\n".utf8))
        exit(1)
    }
}
