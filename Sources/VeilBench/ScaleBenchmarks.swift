import Foundation
import Glibc
import VeilCore
import VeilGateway
import VeilIngest
import VeilModels
import VeilQueries
import VeilRuntime
import VeilStore

/// How Veil behaves as the store grows (issue 18; `make scale`, `VeilBench scale`): for each size, a
/// fresh deployment, a generated NDJSON file imported by `EventImporter` with its default options (as
/// `veil ingest` does), then, against the store that now holds the file:
/// - `import`: events/s until the import is durable (the WAL copy after it apart, `checkpoint_seconds`),
///   `peak_rss`: the process's peak resident set during the import (`VmHWM`, reset just before it by
///   `ResidentMemory.resetPeak`, which first returns the allocator's free heap, so the sizes measured
///   before in the same process do not count), and `rss_before`: the resident set at that reset;
/// - `db_bytes_per_event`: `veil.sqlite` and its WAL after the copy, per stored event;
/// - `http_ingest`: 200 batches of 1,000 new events (later in time, users already stored) through the real
///   gateway, 8 in flight (`GatewayBenchmarks.post`);
/// - `scan`: the training/scoring scan (`forEachEventChunk`, every event once, by pseudonym);
/// - `query`: a DP count of events grouped by category over the whole store (`QueryService.run`),
///   counted in the store (`EventStore.countEvents`), and `query…from_events` from every event (the
///   path before the push-down; the same answer);
/// - `predict`: a logistic `purchase` model trained at ε = 1 and approved, then 1,000 predictions of
///   stored users one after another in process (`PredictionService.predict`: the model lookup, the
///   user's event read, features, the score), p50 and p99.
///
/// Each line is printed as soon as it is measured (the sizes take minutes each), as
/// `scale.<order>.<size>.<measure>`. The events: `ScaleEvents`, 94 per user over 120 days (what
/// `veil generate` makes), written in time order (`time`, storefront traffic) and grouped by user
/// (`user`, a history export).
///
/// Environment: `VEIL_SCALE_SIZES` (comma-separated, default `1000000,5000000,20000000`; `make scale
/// SCALE_100M=1` adds 100,000,000), `VEIL_SCALE_ORDERS` (`time,user`). A size whose data would not fit
/// on the disk holding the temporary directory is skipped with a line on stderr naming what it needs.
enum ScaleBenchmarks {
    static let all: [Benchmark] = [Benchmark(name: "scale") { try await run() }]

    /// What a size needs on disk per event, measured at 1 M: the file (≈ 190 bytes) and the database
    /// with its WAL at its largest (≈ 330 bytes), with room to spare.
    static let diskBytesPerEvent = 700

    /// Users a size needs for the prediction's model to train with its default batch (512).
    static let minimumTrainingUsers = 1_000

    static func run() async throws -> [BenchResult] {
        let settings = BenchSettings.current
        for order in settings.scaleOrders {
            for size in settings.scaleSizes { try await measure(size: size, order: order) }
        }
        return []
    }

    private static func measure(size: Int, order: ScaleEvents.Order) async throws {
        let temporary = FileManager.default.temporaryDirectory.path
        let needed = size * diskBytesPerEvent
        let free = freeBytes(at: temporary)
        guard free >= needed else {
            note("scale: \(size) events need about \(needed >> 30) GiB free in \(temporary); \(free >> 30) GiB are: skipped")
            return
        }
        var policy = Policy()
        policy.budget.totalEpsilon = 1_000
        let deployment = try await BenchDeployment.make(policy: policy)
        defer { deployment.remove() }
        let context = deployment.context
        let name = "scale.\(order.rawValue).\(size)"
        func report(_ measure: String, _ value: Double, _ unit: String) {
            BenchResult(name: "\(name).\(measure)", value: value, unit: unit).print()
        }
        let events = ScaleEvents(count: size)
        let file = deployment.root.appendingPathComponent("events.ndjson").path
        let fileBytes = try events.write(order, to: file)
        report("file_bytes", Double(fileBytes), "bytes")
        report("load_average_1m", loadAverage(), "runnable")

        let importer = try EventImporter(service: context.ingestPipeline(), options: ImportOptions())
        ResidentMemory.resetPeak()
        let residentBefore = ResidentMemory.currentBytes()
        var imported: ImportFileReport? = nil
        let seconds = try await Stopwatch.seconds { imported = try await importer.importFile(file, actor: "bench") }
        let peak = ResidentMemory.peakBytes()
        let checkpoint = try await context.events.settle()
        guard let imported, imported.accepted == size else {
            throw VeilError(.integrity, "the import stored \(imported?.accepted ?? 0) of \(size) events")
        }
        try? FileManager.default.removeItem(atPath: file)
        report("import.events_per_s", Double(size) / seconds, "events/s")
        report("import.seconds", seconds, "s")
        report("import.checkpoint_seconds", checkpoint, "s")
        report("import.rss_before", residentBefore, "bytes")
        report("import.peak_rss", peak, "bytes")
        let data = deployment.root.appendingPathComponent("data/veil.sqlite").path
        let databaseBytes = [data, data + "-wal"].reduce(0) { $0 + fileSize($1) }
        report("db_bytes_per_event", Double(databaseBytes) / Double(size), "bytes")

        let batches = (0..<(GatewayBenchmarks.warmupBatches + GatewayBenchmarks.batches)).map { batch in
            events.body(from: size + batch * GatewayBenchmarks.eventsPerBatch, count: GatewayBenchmarks.eventsPerBatch)
        }
        for result in try await GatewayBenchmarks.post(
            batches, through: GatewayServices(context: context), of: context, name: "\(name).http_ingest")
        {
            result.print()
        }

        let stored = try await context.events.eventCount()
        var scanned = 0
        let scan = try await Stopwatch.seconds {
            try await context.events.forEachEventChunk(chunkSize: 50_000) { scanned += $0.count }
        }
        guard scanned == stored else { throw VeilError(.integrity, "the scan saw \(scanned) of \(stored) events") }
        report("scan.events_per_s", Double(stored) / scan, "events/s")

        // Counted in the store (the default), then from every event (as before the push-down): the same answer.
        for (pushDown, measure) in [(true, "query.count_by_category.seconds"), (false, "query.count_by_category.from_events.seconds")] {
            var groups = 0
            let query = try await Stopwatch.bestSeconds(repetitions: 2) {
                groups = try await context.queryService(pushDown: pushDown).run(
                    QuerySpec(metric: "count_events", groupBy: "category", epsilon: 0.5), principal: "bench", role: .analyst
                ).groups.count
            }
            guard groups > 0 else { throw VeilError(.integrity, "the grouped count released no group") }
            report(measure, query, "s")
        }

        guard events.users >= minimumTrainingUsers else {
            note("scale: \(events.users) users are too few to train the prediction's model (\(minimumTrainingUsers)): predict skipped")
            return
        }
        let horizon = 14
        let cutoff = ScaleEvents.startMillis + Int64(ScaleEvents.days - horizon) * 86_400_000
        try await PredictBenchmarks.approvePurchaseModel(context, cutoffMillis: cutoff, horizonDays: horizon)
        let predictor = context.predictionService()
        let users = events.users
        let latencies = try await PredictBenchmarks.serialLatencies { index in
            let user = (index &* 7919) % users
            _ = try await predictor.predict(pseudonym: context.keys.userPseudonymizer.pseudonym(for: ScaleEvents.userID(user)), task: .purchase)
        }
        report("predict.p50", Percentile.of(latencies, 0.50) * 1e3, "ms")
        report("predict.p99", Percentile.of(latencies, 0.99) * 1e3, "ms")
    }

    private static func freeBytes(at path: String) -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return 0 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    private static func loadAverage() -> Double {
        var loads = [Double](repeating: .nan, count: 3)
        return getloadavg(&loads, 3) > 0 ? loads[0] : .nan
    }

    private static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// The scale benchmark's events: `count` events of `count / 94` users over 120 days from 2026-01-01.
/// Event n is user n mod users's, at start + n · 120 days / count, with a type, item, category (and for
/// purchases and carts a price and quantity) drawn from a hash of n. Written in time order or grouped
/// by user (each user's events in time order): the same events either way.
struct ScaleEvents {
    enum Order: String, Sendable, CaseIterable { case time, user }

    /// Veil's own type names only (an import also takes GA4 aliases such as `view_item`; HTTP does not).
    static let types = ["view", "view", "view", "view", "search", "click", "add_to_cart", "checkout", "purchase", "review"]
    static let eventsPerUser = 94
    static let days = 120
    static let startMillis: Int64 = 1_767_225_600_000

    let count: Int
    let users: Int

    init(count: Int) {
        self.count = count
        users = max(1, count / Self.eventsPerUser)
    }

    static func userID(_ user: Int) -> String { "customer-\(user)@shop.example" }

    /// Writes every event to `path` in `order`; returns the file's size.
    func write(_ order: Order, to path: String) throws -> Int {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw VeilError(.unavailable, field: path, "cannot be created")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 21)
        var total = 0
        func add(_ n: Int) throws {
            line(n, into: &buffer)
            if buffer.count >= 1 << 21 {
                total += buffer.count
                try handle.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        switch order {
        case .time:
            for n in 0..<count { try add(n) }
        case .user:
            for user in 0..<users { for n in stride(from: user, to: count, by: users) { try add(n) } }
        }
        total += buffer.count
        try handle.write(contentsOf: buffer)
        return total
    }

    /// An NDJSON body of events `first..<first + count` (past `count`: after the stored span, same users).
    func body(from first: Int, count: Int) -> [UInt8] {
        var body: [UInt8] = []
        for n in first..<(first + count) { line(n, into: &body) }
        return body
    }

    /// Appends event `n`'s line (with its newline) to `out`.
    func line(_ n: Int, into out: inout [UInt8]) {
        let user = n % users
        let hash = UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15
        let type = Self.types[Int((hash >> 20) % UInt64(Self.types.count))]
        // Past `count` (the HTTP batches), 100 ms apart after the stored span, never in the future.
        let millis =
            n < count
            ? Self.startMillis + Int64(Double(n) * Double(Self.days) * 86_400_000 / Double(count))
            : Self.startMillis + Int64(Self.days) * 86_400_000 + Int64(n - count) * 100
        var line = #"{"event_id":"scale-\#(n)","user_id":"\#(Self.userID(user))","type":"\#(type)","timestamp":"\#(RFC3339.format(millis: millis))","session_id":"s-\#(user)-\#(n / users / 8)","item_id":"sku-\#((hash >> 30) % 5_000)","category":"\#(IngestBenchmarks.categories[Int((hash >> 44) % 8)])""#
        switch type {
        case "purchase", "add_to_cart": line += #","price":\#((hash >> 8) % 200).\#((hash >> 16) % 100),"quantity":\#(1 + (hash >> 24) % 3)"#
        case "review": line += #","rating":\#(1 + (hash >> 8) % 5)"#
        case "search": line += #","query":"red shoes size \#((hash >> 8) % 12)""#
        default: break
        }
        line += "}\n"
        out.append(contentsOf: line.utf8)
    }
}
