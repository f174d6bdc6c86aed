import Foundation
import Hummingbird
import Testing
import VeilCore
import VeilGateway
import VeilService

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// TEST ONLY. An ingestor that holds each batch until the test releases it.
actor GatedIngestor: EventIngesting {
    private var entered: [CheckedContinuation<Void, Never>] = []
    private var waiting: CheckedContinuation<Void, Never>?
    private var release: CheckedContinuation<Void, Never>?
    private var hasEntered = false

    func ingestBatch(_ body: Data, format: EventBatchFormat, actor: String) async throws -> IngestSummary {
        hasEntered = true
        waiting?.resume()
        waiting = nil
        await withCheckedContinuation { release = $0 }
        return IngestSummary(accepted: 1, duplicates: 0)
    }

    /// Returns once a batch is inside `ingestBatch`.
    func waitUntilEntered() async {
        if hasEntered { return }
        await withCheckedContinuation { waiting = $0 }
    }

    func releaseBatch() {
        release?.resume()
        release = nil
    }
}

@Suite struct GracefulShutdownTests {
    @Test func shutdownLetsTheBatchInFlightCommitAndAnswer() async throws {
        let base = try await TestGateway.make()
        let ingestor = GatedIngestor()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let logger = base.logs.logger()
        let app = buildApplication(
            configuration: GatewayConfiguration(host: "127.0.0.1", port: 0) { _, port in portContinuation.yield(port) },
            services: GatewayServices(ingestor: ingestor, eraser: base.eraser, authenticator: base.tokens),
            logger: logger)
        let group = GatewayRunner.serviceGroup(app, logger: logger, gracefulShutdownSignals: [])

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())

            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/events")!)
            request.httpMethod = "POST"
            request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(base.token[.ingest]!)", forHTTPHeaderField: "Authorization")
            request.httpBody = Data(#"{"event_id":"a","user_id":"u"}"#.utf8)
            let inFlight = Task { try await URLSession.shared.data(for: request) }

            await ingestor.waitUntilEntered()
            await group.triggerGracefulShutdown()
            #expect(await Self.stopsAccepting(port: port), "the server still accepts connections after shutdown began")
            await ingestor.releaseBatch()

            let (body, response) = try await inFlight.value
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(String(decoding: body, as: UTF8.self) == #"{"accepted":1,"duplicates":0}"#)
            try await tasks.waitForAll()
        }
    }

    /// Whether new requests to `/healthz` start failing within a bounded number of probes.
    static func stopsAccepting(port: Int) async -> Bool {
        let probe = URLSession(configuration: .ephemeral)
        let url = URL(string: "http://127.0.0.1:\(port)/healthz")!
        for _ in 0..<500 {
            if (try? await probe.data(from: url)) == nil { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}
