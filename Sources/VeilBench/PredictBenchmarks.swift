import AsyncHTTPClient
import Foundation
import VeilCore
import VeilGateway
import VeilIngest
import VeilModels
import VeilRuntime
import VeilSynth

/// Single-prediction latency over HTTP at a fixed request rate (issue 5: "p50/p99 over HTTP at 500
/// requests/s").
///
/// Setup, all through the real services of a fresh `BenchDeployment`: `users` synthetic shoppers over
/// `days` days (`VeilSynth`, seed 7) stored through the ingest pipeline in batches; a logistic
/// `purchase` model trained by `TrainingService` at ε = 1 (cutoff 14 days before the data ends) and
/// approved in the `ModelRegistry`; the gateway with `GatewayServices(context:)` and an analyst token.
///
/// Load: `POST /v1/predict {"task":"purchase","pseudonym":…}` for the stored users in a fixed shuffled
/// order, open loop (`OpenLoopLoad`) at `rate` requests/s for `seconds` s after a 1 s warm-up at the
/// same rate. Reports p50/p99/max latency from each request's scheduled time, the achieved rate, the
/// error count, the CPU time per request and the machine's load average. For attribution it then
/// times, serially and without HTTP, the three steps a prediction takes: the serving-model lookup,
/// the user's event read, and the whole `PredictionService.predict`.
enum PredictBenchmarks {
    static let users = 4_000
    static let days = 70
    static let rate = 500.0
    static let seconds = 10.0
    static let serialSamples = 1_000

    static let all: [Benchmark] = [Benchmark(name: "predict_http") { try await run() }]

    static func run() async throws -> [BenchResult] {
        let deployment = try await BenchDeployment.make()
        defer { deployment.remove() }
        let context = deployment.context
        let shoppers = SyntheticShoppers(SynthConfiguration(users: users, days: days, seed: 7))
        let started = ContinuousClock.now
        func phase(_ text: String) { progress("predict_http: \(text) after \(ContinuousClock.now - started)") }
        let stored = try await store(shoppers, through: context.ingestPipeline())
        phase("\(stored.count) users stored")
        try await approvePurchaseModel(context, shoppers: shoppers)
        phase("model trained and approved")
        let pseudonyms = stored.map { context.keys.userPseudonymizer.pseudonym(for: shoppers.userID($0)) }
        // A fixed permutation (7919 is prime, coprime to the count unless it divides it).
        let order = (0..<pseudonyms.count).map { pseudonyms[($0 &* 7919) % pseudonyms.count] }
        let bodies = order.map { Array(#"{"task":"purchase","pseudonym":"\#($0.hex)"}"#.utf8) }
        let token = try await context.tokens.issue(name: "bench", role: .analyst, actor: "bench").token

        let (report, cpu) = try await BenchGateway.serving(GatewayServices(context: context), policy: context.policy.policy) { port in
            // More connections than `HTTPClient.shared` allows, so requests queue in the server, not the client.
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
            let http = HTTPClient(configuration: configuration, backgroundActivityLogger: .init(label: "veil.bench.client"))
            let client = LoadClient(
                url: "http://127.0.0.1:\(port)/v1/predict", token: token, contentType: "application/json", http: http)
            let send: @Sendable (Int) async throws -> Bool = { try await client.post(bodies[$0 % bodies.count]) == 200 }
            let warmup = await OpenLoopLoad(rate: rate, count: Int(rate)).run(send)
            phase("warm-up done (\(warmup.errors) errors)")
            let cpuBefore = Stopwatch.cpuSeconds()
            let report = await OpenLoopLoad(rate: rate, count: Int(rate * seconds)).run { try await send($0 + Int(rate)) }
            let cpu = Stopwatch.cpuSeconds() - cpuBefore
            phase("load done (\(report.errors) errors)")
            // Close the client's keep-alive connections before the gateway waits for its connections to end.
            try await http.shutdown()
            return (report, cpu)
        }
        phase("gateway stopped")

        let breakdown = try await serialBreakdown(context, pseudonyms: order)
        let sorted = report.latencies
        return [
            BenchResult(name: "predict_http.users", value: Double(pseudonyms.count), unit: "users"),
            BenchResult(name: "predict_http.events_stored", value: Double(try await context.events.eventCount()), unit: "events"),
            BenchResult(name: "predict_http.target_rate", value: rate, unit: "requests/s"),
            BenchResult(name: "predict_http.achieved_rate", value: report.achievedRate, unit: "requests/s"),
            BenchResult(name: "predict_http.requests", value: Double(sorted.count + report.errors), unit: "requests"),
            BenchResult(name: "predict_http.errors", value: Double(report.errors), unit: "requests"),
            BenchResult(name: "predict_http.p50", value: Percentile.of(sorted, 0.50) * 1e3, unit: "ms"),
            BenchResult(name: "predict_http.p99", value: Percentile.of(sorted, 0.99) * 1e3, unit: "ms"),
            BenchResult(name: "predict_http.max", value: (sorted.last ?? .nan) * 1e3, unit: "ms"),
            // Client and server share the process: CPU of both, per request, during the paced run.
            BenchResult(name: "predict_http.cpu_per_request", value: cpu / Double(sorted.count + report.errors) * 1e3, unit: "ms"),
            BenchResult(name: "predict_http.load_average_1m", value: loadAverage(), unit: "runnable"),
        ] + breakdown
    }

    /// The machine's 1-minute load average (other processes compete for the same cores), or NaN.
    private static func loadAverage() -> Double {
        var loads = [Double](repeating: .nan, count: 3)
        return getloadavg(&loads, 3) > 0 ? loads[0] : .nan
    }

    /// A line on standard error (standard output carries only results).
    private static func progress(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Ingests every user's events as NDJSON batches of at most the policy's `max_batch_events`;
    /// returns the indexes of the users that have events.
    private static func store(_ shoppers: SyntheticShoppers, through pipeline: IngestService) async throws -> [Int] {
        let limit = pipeline.policy.ingest.maxBatchEvents
        var body: [UInt8] = []
        var lines = 0
        var stored: [Int] = []
        func flush() async throws {
            guard lines > 0 else { return }
            _ = try await pipeline.ingestBatch(Data(body), format: .ndjson, actor: "bench")
            body.removeAll(keepingCapacity: true)
            lines = 0
        }
        for user in 0..<shoppers.configuration.users {
            let events = shoppers.events(ofUser: user)
            let count = events.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            guard count > 0 else { continue }
            if lines + count > limit { try await flush() }
            body += events
            lines += count
            stored.append(user)
        }
        try await flush()
        return stored
    }

    /// Trains a logistic `purchase` model at ε = 1 on everything before the last 14 days, approves it
    /// for serving.
    private static func approvePurchaseModel(_ context: VeilContext, shoppers: SyntheticShoppers) async throws {
        let horizon = 14
        let cutoff = Int64(shoppers.configuration.start.adding(days: days - horizon).daysSinceEpoch) * 86_400_000
        try await approvePurchaseModel(context, cutoffMillis: cutoff, horizonDays: horizon)
    }

    /// Trains a logistic `purchase` model at ε = 1 on everything before `cutoffMillis`, labels from the
    /// `horizonDays` after it, and approves it for serving. The benchmarks time serving, not quality:
    /// a model that does not beat its baselines (the noise is unseeded, and a bench population is
    /// small, so some runs do not) is approved with a quality override saying so, as a reviewer would
    /// have to (`ModelRegistry.approve`).
    static func approvePurchaseModel(_ context: VeilContext, cutoffMillis cutoff: Int64, horizonDays horizon: Int) async throws {
        let card = try await context.trainingService().train(
            TrainingRequest(task: .purchase, epsilon: 1, model: .logistic, cutoffMillis: cutoff, horizonDays: horizon),
            principal: "bench")
        guard let id = card.modelId else { throw VeilError(.integrity, "the trained model has no id") }
        do {
            _ = try await context.models.approve(id: id, reviewer: "bench-reviewer", note: "latency benchmark")
        } catch let refusal as VeilError where refusal.field == "override_quality" {
            _ = try await context.models.approve(
                id: id, reviewer: "bench-reviewer", note: "latency benchmark",
                qualityOverride: "a latency benchmark: what is measured is serving, not the model's quality")
        }
    }

    /// Serial, in-process timings of the steps of one prediction, `serialSamples` each (ms).
    private static func serialBreakdown(_ context: VeilContext, pseudonyms: [Pseudonym]) async throws -> [BenchResult] {
        let predictor = context.predictionService()
        var events = 0
        let lookup = try await serialLatencies { _ in _ = try await context.models.serving(task: "purchase") }
        let read = try await serialLatencies { events += try await context.events.events(for: pseudonyms[$0 % pseudonyms.count]).count }
        let predict = try await serialLatencies {
            _ = try await predictor.predict(pseudonym: pseudonyms[$0 % pseudonyms.count], task: .purchase)
        }
        var results = [BenchResult(name: "predict_http.events_per_user_read", value: Double(events) / Double(serialSamples), unit: "events")]
        for (step, sample) in [("model_lookup", lookup), ("event_read", read), ("service_predict", predict)] {
            results.append(BenchResult(name: "predict_http.serial.\(step).p50", value: Percentile.of(sample, 0.50) * 1e3, unit: "ms"))
            results.append(BenchResult(name: "predict_http.serial.\(step).p99", value: Percentile.of(sample, 0.99) * 1e3, unit: "ms"))
        }
        return results
    }

    /// Seconds taken by each of `serialSamples` calls of `body(i)`, ascending.
    static func serialLatencies(_ body: (Int) async throws -> Void) async throws -> [Double] {
        var sample: [Double] = []
        sample.reserveCapacity(serialSamples)
        for index in 0..<serialSamples {
            let start = ContinuousClock.now
            try await body(index)
            sample.append((ContinuousClock.now - start).seconds)
        }
        return sample.sorted()
    }
}
