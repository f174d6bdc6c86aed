import Foundation
import Synchronization
import VeilCore
import VeilGateway
import VeilIngest
import VeilLedger
import VeilPolicy
import VeilPrivacy
import VeilQueries
import VeilRuntime
import VeilStore
import VeilTestSupport

/// PostgreSQL beside SQLite in one run (issue 13), each through the whole product (`VeilContext` on
/// the backend `--database-url` names):
/// - import of 1,000,000 generated events (50,000 users) until durable, in one transaction (the
///   default contract for a file this size): the real pipeline, COPY into PostgreSQL; then 4,000,000
///   more in units (`--batch-size` 50,000, validated first, each transaction whole with its own
///   `ingest.batch` record), on `ImportOptions.defaultWriteConnections` connections at once on
///   PostgreSQL (one writer on SQLite) — the name says which contract and how many connections;
/// - the training scan: every event read once (`EventStore.scan`, chunks of 10,000), events/s, the
///   process's resident memory when it starts and its peak during the scan (VmHWM reset before it) —
///   at 1 M events, then again after 4 M more are imported (5 M): the peak must not grow with the
///   table (what the imports left allocated shows in the memory the scan starts from); after each
///   scan, a DP count grouped by category, counted in the store and from every event;
/// - HTTP ingest through the real gateway: 300 batches of 1,000 events from 8 concurrent senders into
///   one replica; on PostgreSQL also through three replicas at once (three `VeilContext`s on the one
///   database, each with its own data directory and gateway, 8 senders each), the aggregate events/s;
/// - spend reservation latency: 1,000 reservations from 50 concurrent tasks (pure ε = 1e-4 each),
///   p50 and p99 — on PostgreSQL spread over the three replicas — and the process's CPU per reservation.
///
/// PostgreSQL runs in a throwaway cluster on this machine over its unix socket
/// (`scripts/pg-cluster.sh start --bench`: shared_buffers = 1GB, max_wal_size = 8GB,
/// checkpoint_timeout = 30min, wal_buffers = 64MB, wal_level = minimal, work_mem = 64MB; fsync,
/// synchronous_commit and full_page_writes stay on — acknowledged means durable). It is skipped,
/// with a note on stderr, where PostgreSQL is not installed. `VEIL_BENCH_EVENTS` overrides the first
/// import's size (the second imports four times as many); `VEIL_BENCH_BACKENDS=postgres` (or `sqlite`)
/// runs one backend only. `ledger.reserve` measures the reservations alone; `VEIL_BENCH_RESERVE_ROUNDS=N`
/// repeats its three-replica run N times on the growing ledger (`ledger.postgres.roundK.…`); it
/// ends with that run once more after a training run's spend (`ledger.postgres.after_training.…`).
enum BackendBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "backends") {
            let count = BenchSettings.current.events
            return try await onEachBackend("backends") {
                try await measure("sqlite", database: .sqlite, events: count)
            } postgres: { url, _ in
                try await measure("postgres", database: url, events: count)
            }
        },
        // HTTP ingest alone, through one replica into an empty store, on each backend: the gateway's line
        // of `backends` without the imports before it, with the process's CPU per event and, on
        // PostgreSQL, the server's (a loaded machine's wall-clock rate says little).
        Benchmark(name: "replica_ingest") {
            try await onEachBackend("replica_ingest") {
                try await httpIngestAlone("replica_ingest.sqlite", database: .sqlite, server: nil)
            } postgres: { url, cluster in
                try await httpIngestAlone("replica_ingest.postgres", database: url, server: ServerCPU(cluster: cluster))
            }
        },
        // Reservations alone, without the imports and HTTP ingest before them: on PostgreSQL through one
        // replica, then through three (the ledger then holds the first run's spends).
        Benchmark(name: "ledger.reserve") {
            try await onEachBackend("ledger.reserve") {
                let deployment = try await BenchDeployment.make()
                defer { deployment.remove() }
                return try await reservations("ledger.sqlite", [deployment.context])
            } postgres: { url, _ in
                let deployment = try await BenchDeployment.make(databaseURL: url)
                defer { deployment.remove() }
                var results = try await reservations("ledger.postgres", [deployment.context])
                let replicas = [deployment.context, try await deployment.replica(2), try await deployment.replica(3)]
                results += try await reservations("ledger.postgres", replicas)
                // `VEIL_BENCH_RESERVE_ROUNDS=N`: N rounds of 1,000 through the three replicas, each on the
                // ledger the rounds before it left (how a reservation's cost grows with the ledger).
                for round in stride(from: 2, through: BenchSettings.current.reserveRounds, by: 1) {
                    results += try await reservations("ledger.postgres.round\(round)", replicas)
                }
                // Once more after a training run's spend (DP-SGD as `veil train` runs it at 50,000 users
                // with the defaults): each decision then composes its pure-ε spend onto a privacy loss
                // distribution of many thousand bins, where the rounds above compose two-point ones.
                let training = PrivacyMechanism.subsampledGaussian(samplingRate: 512.0 / 50_000, noiseMultiplier: 1, steps: 465)
                _ = try await deployment.context.budget.reserve(
                    BudgetRequest(principal: "bench", role: .analyst, purpose: "bench: a training run", mechanism: training))
                results += try await reservations("ledger.postgres.after_training", replicas)
                for replica in replicas.dropFirst() { _ = await replica.close() }
                return results
            }
        },
    ]

    /// Runs `sqlite`, then `postgres` on a migrated throwaway cluster (its URL and the cluster; skipped,
    /// with a note on stderr naming `benchmark`, where PostgreSQL is not installed); `VEIL_BENCH_BACKENDS`
    /// (`sqlite`, `postgres`, or both, comma-separated) picks which.
    static func onEachBackend(
        _ benchmark: String, sqlite: () async throws -> [BenchResult],
        postgres: (DatabaseURL, PostgresTestCluster) async throws -> [BenchResult]
    ) async throws -> [BenchResult] {
        let backends = BenchSettings.current.backends
        var results: [BenchResult] = []
        if backends.contains(.sqlite) { results += try await sqlite() }
        guard backends.contains(.postgres) else { return results }
        if let reason = PostgresTestCluster.unavailableReason {
            FileHandle.standardError.write(Data("\(benchmark): PostgreSQL skipped: \(reason)\n".utf8))
            return results
        }
        let cluster = try PostgresTestCluster(bench: true)
        defer { cluster.stop() }
        let url = try DatabaseURL(parsing: cluster.url)
        _ = try await StoreAdministration.migrate(url, dataDirectory: NSTemporaryDirectory())
        results += try await postgres(url, cluster)
        return results
    }

    static func measure(_ backend: String, database: DatabaseURL, events count: Int) async throws -> [BenchResult] {
        let deployment = try await BenchDeployment.make(databaseURL: database)
        defer { deployment.remove() }
        let name = "backends.\(backend)"
        let context = deployment.context

        let importRate = try await importEvents(count, first: 0, into: deployment, options: ImportOptions())
        var results = [BenchResult(name: "\(name).import_until_durable.one_transaction", value: importRate, unit: "events/s")]
        results += try await scanAll(context, expected: count, name: name)
        results += try await groupedCounts(context, name: "\(name).\(count)")
        var units = ImportOptions()
        units.inBatches = true
        let connections = min(ImportOptions.defaultWriteConnections, context.events.maxWriteConnections)
        let unitsRate = try await importEvents(4 * count, first: count, into: deployment, options: units)
        results.append(
            BenchResult(
                name: "\(name).import_until_durable.units_\(connections)_connection\(connections == 1 ? "" : "s")", value: unitsRate,
                unit: "events/s"))
        results += try await scanAll(context, expected: 5 * count, name: name)
        results += try await groupedCounts(context, name: "\(name).\(5 * count)")

        // One replica, then (PostgreSQL) three replicas on the one database.
        let token = try await context.tokens.issue(name: "bench", role: .ingest, actor: "bench").token
        let rate = try await httpIngest(through: [context], token: token, firstBatch: 0).eventsPerSecond
        results.append(BenchResult(name: "\(name).http_ingest_1_replica", value: rate, unit: "events/s"))
        var replicas = [context]
        if database != .sqlite {
            replicas += [try await deployment.replica(2), try await deployment.replica(3)]
            let rate = try await httpIngest(through: replicas, token: token, firstBatch: httpBatches).eventsPerSecond
            results.append(BenchResult(name: "\(name).http_ingest_3_replicas", value: rate, unit: "events/s"))
        }

        results += try await reservations(name, replicas)
        for replica in replicas.dropFirst() { _ = await replica.close() }
        return results
    }

    /// Imports `count` generated events (numbered from `first`) through the real pipeline with
    /// `options`; returns events/s until the import is durable.
    static func importEvents(_ count: Int, first: Int, into deployment: BenchDeployment, options: ImportOptions) async throws -> Double {
        let file = deployment.root.appendingPathComponent("events-\(first).ndjson").path
        // One second apart: 5 M events span 58 days, none of them in the future.
        _ = try IngestBenchmarks.writeEvents(count: count, first: first, users: 50_000, secondsApart: 1, to: file)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let importer = try EventImporter(service: deployment.context.ingestPipeline(), options: options)
        var report: ImportFileReport? = nil
        let seconds = try await Stopwatch.seconds { report = try await importer.importFile(file, actor: "bench") }
        guard report?.accepted == count else { throw VeilError(.integrity, "the import stored \(report?.accepted ?? 0) of \(count) events") }
        _ = try await deployment.context.events.settle()
        return Double(count) / seconds
    }

    /// A DP count of events grouped by category over the whole store (`QueryService.run`, best of two),
    /// counted in the store (`EventStore.countEvents`: SQL on PostgreSQL) and from every event.
    static func groupedCounts(_ context: VeilContext, name: String) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for (pushDown, measure) in [(true, "in_store"), (false, "from_events")] {
            let seconds = try await Stopwatch.bestSeconds(repetitions: 2) {
                let groups = try await context.queryService(pushDown: pushDown).run(
                    QuerySpec(metric: "count_events", groupBy: "category", epsilon: 0.5), principal: "bench", role: .analyst
                ).groups.count
                guard groups > 0 else { throw VeilError(.integrity, "the grouped count released no group") }
            }
            results.append(BenchResult(name: "\(name).count_by_category.\(measure)", value: seconds, unit: "s"))
        }
        return results
    }

    /// The training scan over the whole table: events/s and the peak resident memory of the scan alone.
    static func scanAll(_ context: VeilContext, expected: Int, name: String) async throws -> [BenchResult] {
        let before = ResidentMemory.currentBytes()
        ResidentMemory.resetPeak()
        let scanned = Mutex(0)
        let seconds = try await Stopwatch.seconds {
            try await context.events.scan(.all, chunkSize: 10_000) { chunk in scanned.withLock { $0 += chunk.count } }
        }
        let peak = ResidentMemory.peakBytes()
        guard scanned.withLock({ $0 }) == expected else {
            throw VeilError(.integrity, "the scan read \(scanned.withLock { $0 }) of \(expected) events")
        }
        let size = expected % 1_000_000 == 0 ? "\(expected / 1_000_000)m" : "\(expected)"
        return [
            BenchResult(name: "\(name).scan_\(size)", value: Double(expected) / seconds, unit: "events/s"),
            BenchResult(name: "\(name).scan_\(size).rss_before", value: before / 1_048_576, unit: "MiB"),
            BenchResult(name: "\(name).scan_\(size).peak_rss", value: peak / 1_048_576, unit: "MiB"),
        ]
    }

    /// Batches of 1,000 events each replica's gateway is sent.
    static let httpBatches = 300

    /// Warm-up batches each replica's gateway is sent, one at a time, before the timed load.
    static let httpWarmupBatches = 5

    /// Senders per gateway in the timed load.
    static let httpSenders = 8

    /// What one HTTP load measured, over its timed part only (the warm-up and building the bodies left
    /// out): events/s, this process's CPU microseconds per event — the load's client, the gateway and
    /// the store's Swift side — and, when a `ServerCPU` was given, the database server's.
    struct HTTPLoadResult: Sendable {
        var eventsPerSecond: Double
        var cpuMicrosecondsPerEvent: Double
        var serverCPUMicrosecondsPerEvent: Double? = nil
    }

    /// `httpBatches` batches into each replica's gateway at once (`httpSenders` concurrent senders each,
    /// after `httpWarmupBatches` warm-up batches each). Batches are numbered from `firstBatch` (distinct
    /// event ids: every event is new).
    static func httpIngest(
        through replicas: [VeilContext], token: String, firstBatch: Int, server: ServerCPU? = nil
    ) async throws -> HTTPLoadResult {
        let bodies = httpLoadBodies(gateways: replicas.count, firstBatch: firstBatch)
        return try await serving(replicas) { ports in try await sendHTTPLoad(bodies, to: ports, token: token, server: server) }
    }

    /// The bodies `httpIngest` sends, per gateway: `httpWarmupBatches + httpBatches` NDJSON batches of
    /// `GatewayBenchmarks.eventsPerBatch` events (`GatewayBenchmarks.batchBody`), numbered from
    /// `firstBatch`, distinct across gateways.
    static func httpLoadBodies(gateways: Int, firstBatch: Int) -> [[[UInt8]]] {
        let perGateway = httpWarmupBatches + httpBatches
        return (0..<gateways).map { index in
            let first = 10_000 + firstBatch * gateways + index * perGateway
            return (first..<(first + perGateway)).map(GatewayBenchmarks.batchBody)
        }
    }

    /// Sends `bodies[i]` to `POST /v1/events` on `ports[i]` with `token`: the warm-up batches one at a
    /// time, then every gateway's timed batches at once, `httpSenders` in flight per gateway. Every
    /// batch must be answered 200. `server`: the database server whose CPU to count as well.
    static func sendHTTPLoad(
        _ bodies: [[[UInt8]]], to ports: [Int], token: String, server: ServerCPU? = nil
    ) async throws -> HTTPLoadResult {
        let clients = ports.map { LoadClient(url: "http://127.0.0.1:\($0)/v1/events", token: token) }
        for (client, batches) in zip(clients, bodies) {
            for body in batches.prefix(httpWarmupBatches) { _ = try await client.send(body) }
        }
        let timed = zip(clients, bodies).map { ($0, Array($1.dropFirst(httpWarmupBatches))) }
        let events = Double(timed.reduce(0) { $0 + $1.1.count } * GatewayBenchmarks.eventsPerBatch)
        let cpuBefore = Stopwatch.cpuSeconds()
        let serverBefore = server?.seconds()
        let seconds = try await Stopwatch.seconds {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (client, batches) in timed {
                    group.addTask { _ = try await client.sendConcurrently(batches, concurrency: httpSenders) }
                }
                try await group.waitForAll()
            }
        }
        let cpu = Stopwatch.cpuSeconds() - cpuBefore
        var serverCPU: Double? = nil
        if let server, let serverBefore { serverCPU = (server.seconds() - serverBefore) / events * 1e6 }
        return HTTPLoadResult(
            eventsPerSecond: events / seconds, cpuMicrosecondsPerEvent: cpu / events * 1e6, serverCPUMicrosecondsPerEvent: serverCPU)
    }

    /// `httpIngest` through one replica of a fresh deployment on `database`: events/s and the CPU
    /// microseconds per event of the process and of `server` (`HTTPLoadResult`).
    static func httpIngestAlone(_ name: String, database: DatabaseURL, server: ServerCPU?) async throws -> [BenchResult] {
        let deployment = try await BenchDeployment.make(databaseURL: database)
        defer { deployment.remove() }
        let token = try await deployment.context.tokens.issue(name: "bench", role: .ingest, actor: "bench").token
        return try await httpIngest(through: [deployment.context], token: token, firstBatch: 0, server: server).results(name)
    }

    /// Runs one gateway per replica, hands `body` their ports.
    private static func serving<T: Sendable>(
        _ replicas: ArraySlice<VeilContext>, ports: [Int] = [], _ body: ([Int]) async throws -> T
    ) async throws -> T {
        guard let replica = replicas.first else { return try await body(ports) }
        return try await BenchGateway.serving(GatewayServices(context: replica), policy: replica.policy.policy) { port in
            try await serving(replicas.dropFirst(), ports: ports + [port], body)
        }
    }

    private static func serving<T: Sendable>(_ replicas: [VeilContext], _ body: ([Int]) async throws -> T) async throws -> T {
        try await serving(replicas[...], body)
    }

    /// p50 and p99 of 1,000 reservations from 50 concurrent tasks spread over `replicas`, and the
    /// process's CPU microseconds per reservation meanwhile (the callers, the replicas' groups and
    /// audit mirrors; not PostgreSQL's processes): what a loaded machine's latencies cannot say, and
    /// what bounds them on two cores (docs/deploy.md, "Measuring").
    static func reservations(_ name: String, _ replicas: [VeilContext]) async throws -> [BenchResult] {
        let cpuBefore = Stopwatch.cpuSeconds()
        let latencies = try await reservationLatencies(replicas.map(\.budget), tasks: 50, each: 20)
        let cpu = Stopwatch.cpuSeconds() - cpuBefore
        let reserve = "\(name).reserve_50_concurrent_\(replicas.count)_replica\(replicas.count == 1 ? "" : "s")"
        return [
            BenchResult(name: "\(reserve).p50", value: Percentile.of(latencies, 0.50) * 1000, unit: "ms"),
            BenchResult(name: "\(reserve).p99", value: Percentile.of(latencies, 0.99) * 1000, unit: "ms"),
            BenchResult(name: "\(reserve).process_cpu_per_reservation", value: cpu / Double(latencies.count) * 1e6, unit: "us"),
        ]
    }

    /// Seconds per reservation, sorted: `tasks` concurrent tasks, spread over the replicas' budget
    /// services in turn, reserving `each` times.
    static func reservationLatencies(_ budgets: [BudgetService], tasks: Int, each: Int) async throws -> [Double] {
        let request = BudgetRequest(principal: "bench", role: .analyst, purpose: "bench", mechanism: .pureEpsilon(epsilon: 1e-4))
        let all = try await withThrowingTaskGroup(of: [Double].self) { group in
            for task in 0..<tasks {
                let budget = budgets[task % budgets.count]
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

extension BackendBenchmarks.HTTPLoadResult {
    /// `<name>.events_per_s`, `<name>.process_cpu_per_event` and, when measured, `<name>.server_cpu_per_event`.
    func results(_ name: String) -> [BenchResult] {
        var results = [
            BenchResult(name: "\(name).events_per_s", value: eventsPerSecond, unit: "events/s"),
            BenchResult(name: "\(name).process_cpu_per_event", value: cpuMicrosecondsPerEvent, unit: "us"),
        ]
        if let serverCPUMicrosecondsPerEvent {
            results.append(BenchResult(name: "\(name).server_cpu_per_event", value: serverCPUMicrosecondsPerEvent, unit: "us"))
        }
        return results
    }
}

/// The CPU time of a throwaway PostgreSQL cluster's server (Linux, from /proc): the postmaster and
/// every process it started — backends, WAL writer, checkpointer, autovacuum workers. A process that
/// ended between two readings takes its CPU time with it (an autovacuum worker), so a difference of
/// two readings may count a little less than the server spent, never more.
struct ServerCPU: Sendable {
    let postmaster: Int32

    /// The cluster's postmaster (the first line of `data/postmaster.pid`); nil where it cannot be read.
    init?(cluster: PostgresTestCluster) {
        guard let text = try? String(contentsOfFile: cluster.directory + "/data/postmaster.pid", encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int32($0) })
        else { return nil }
        postmaster = pid
    }

    /// User and system CPU seconds of the postmaster and its live children so far.
    func seconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var total = 0.0
        for name in processes where name.allSatisfy(\.isNumber) {
            guard let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let end = stat.lastIndex(of: ")")
            else { continue }
            // After the command's closing parenthesis: state, ppid, …, utime (the 12th), stime (the 13th).
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 12, Int32(name) == postmaster || Int32(fields[1]) == postmaster,
                let user = Double(fields[11]), let system = Double(fields[12])
            else { continue }
            total += (user + system) / ticks
        }
        return total
    }
}
