import Foundation
import Hummingbird
import Testing
import VeilCore
import VeilGateway
import VeilIngest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct GracefulShutdownTests {
    @Test func shutdownLetsTheBatchInFlightCommitAndAnswer() async throws {
        let base = try await TestGateway.make()
        // The real pipeline over a store whose commit waits for the test (a slow disk).
        let store = GatedCommitStore(base: base.context.events)
        var services = base.services
        services.ingestor = IngestService(store: store, keys: base.context.keys, policy: base.policy)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let logger = base.logs.logger()
        let app = buildApplication(
            configuration: GatewayConfiguration(host: "127.0.0.1", port: 0) { _, port in portContinuation.yield(port) },
            services: services,
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
            request.httpBody = Data(ndjsonText(count: 1).utf8)
            let inFlight = Task { try await URLSession.shared.data(for: request) }

            await store.waitUntilEntered()
            await group.triggerGracefulShutdown()
            #expect(await Self.stopsAccepting(port: port), "the server still accepts connections after shutdown began")
            await store.release()

            let (body, response) = try await inFlight.value
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(String(decoding: body, as: UTF8.self) == #"{"accepted":1,"duplicates":0}"#)
            try await tasks.waitForAll()
        }
        #expect(try await base.context.events.eventCount() == 1)
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
