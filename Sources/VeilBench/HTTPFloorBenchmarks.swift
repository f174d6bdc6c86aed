import Foundation
import Hummingbird
import Logging
import Synchronization
import VeilCore
import VeilGateway
import VeilIngest
import VeilRuntime
import VeilStore
import VeilTestSupport

/// The HTTP floor of this machine (issues 13 and 18): the load of `replica_ingest` — the same client,
/// 300 batches of 1,000 events, 8 senders — against servers that do less and less of the work, so
/// that what HTTP, decoding and validation cost on these cores, with the client beside them, is
/// measured apart from the store's write:
/// - `http_floor.body_only`: a bare Hummingbird server whose one route reads the body and answers
///   with its line count — HTTP alone (no middleware, no token check, no parsing);
/// - `http_floor.gateway_counting`: the real gateway (request log, metrics, token check, body
///   limits) whose ingestor counts the body's lines (`CountingIngestor`) — the gateway without the
///   pipeline;
/// - `http_floor.gateway_no_store`: the real gateway and the real ingest pipeline (parsing,
///   validation, minimisation, pseudonyms, escrow of each new identity) over a store that writes
///   nothing (`DiscardingEventStore`) — everything a replica does in Swift but the store's write.
///
/// Each prints events/s and the process's CPU microseconds per event over the timed load (client and
/// server share the process and the machine's cores). Bench only: nothing here is a product mode.
enum HTTPFloorBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "http_floor.body_only") {
            let bodies = BackendBenchmarks.httpLoadBodies(gateways: 1, firstBatch: 0)
            let limit = Policy().ingest.maxBodyBytes
            return try await BenchGateway.serving({ logger, onListening in
                bodyOnlyApplication(maxBodyBytes: limit, logger: logger, onListening: onListening)
            }) { port in
                try await BackendBenchmarks.sendHTTPLoad(bodies, to: [port], token: "unused").results("http_floor.body_only")
            }
        },
        Benchmark(name: "http_floor.gateway_counting") {
            try await throughGateway("http_floor.gateway_counting") { _ in CountingIngestor() }
        },
        Benchmark(name: "http_floor.gateway_no_store") {
            try await throughGateway("http_floor.gateway_no_store") { context in
                IngestService(
                    store: DiscardingEventStore(base: context.events), keys: context.keys, policy: context.policy.policy,
                    clock: context.clock)
            }
        },
    ]

    /// The load through the real gateway of a fresh (SQLite) deployment whose ingestor `ingestor` builds.
    private static func throughGateway(
        _ name: String, ingestor: (VeilContext) -> any EventIngesting
    ) async throws -> [BenchResult] {
        let deployment = try await BenchDeployment.make()
        defer { deployment.remove() }
        let context = deployment.context
        var services = GatewayServices(context: context)
        services.ingestor = ingestor(context)
        let token = try await context.tokens.issue(name: "bench", role: .ingest, actor: "bench").token
        let bodies = BackendBenchmarks.httpLoadBodies(gateways: 1, firstBatch: 0)
        return try await BenchGateway.serving(services, policy: context.policy.policy) { port in
            try await BackendBenchmarks.sendHTTPLoad(bodies, to: [port], token: token).results(name)
        }
    }

    /// A Hummingbird server with one route, `POST /v1/events`, that reads the whole body (refusing one
    /// past `maxBodyBytes`) and answers 200 with `{"accepted":<lines>,"duplicates":0}`.
    private static func bodyOnlyApplication(
        maxBodyBytes: Int, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router()
        router.post("v1/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: maxBodyBytes)
            let lines = CountingIngestor.lines(in: body.readableBytesView)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"accepted":\#(lines),"duplicates":0}"#)))
        }
        return Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// BENCH ONLY: an event store whose `commit` writes nothing, for measuring everything before the
/// write (`http_floor.gateway_no_store`). It escrows each pseudonym the first time it sees one —
/// the sealing a backend's write asks the pipeline for, once per new identity — builds the batch's
/// audit draft, and answers every event as inserted at once. Imports and reads go to `base`.
final class DiscardingEventStore: ForwardingEventStore {
    let base: any EventStore
    private let escrowed = Mutex<Set<Pseudonym>>([])

    init(base: any EventStore) { self.base = base }

    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        let new = escrowed.withLock { escrowed in
            Set(batch.events.map(\.pseudonym)).filter { escrowed.insert($0).inserted }
        }
        for pseudonym in new { _ = try batch.escrow(pseudonym) }
        let result = BatchCommit(inserted: batch.events.count, duplicates: 0, newIdentities: new.count)
        _ = batch.audit?(result)
        return result
    }
}
