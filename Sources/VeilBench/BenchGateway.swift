import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VeilCore
import VeilCrypto
import VeilGateway
import VeilPolicy
import VeilRuntime
import VeilStore

/// A throwaway deployment for one benchmark: fresh keys and a fresh data directory under the system
/// temporary directory, opened as a `VeilContext` under the built-in policy. `remove()` deletes it all.
struct BenchDeployment {
    let root: URL
    let context: VeilContext
    let databaseURL: DatabaseURL

    /// A fresh deployment under `policy` (the built-in one by default), its stores where `databaseURL`
    /// says (SQLite in its data directory by default; a PostgreSQL database must be migrated already).
    static func make(policy: Policy = Policy(), databaseURL: DatabaseURL = .sqlite) async throws -> BenchDeployment {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("veil-bench-\(UUID().uuidString)")
        let keysDirectory = root.appendingPathComponent("keys").path
        try KeyRing.initialize(directory: keysDirectory)
        let context = try await VeilContext.open(
            keysDirectory: keysDirectory, dataDirectory: root.appendingPathComponent("data").path, databaseURL: databaseURL,
            policy: LoadedPolicy(policy: policy, hash: String(repeating: "0", count: 64), path: "(built-in)"), actor: "bench")
        return BenchDeployment(root: root, context: context, databaseURL: databaseURL)
    }

    /// Another replica of this deployment: a context on the same keys, policy and database, with a data
    /// directory of its own (`data-<index>`, its audit mirror), its ledger warmed, as a second `veil
    /// serve` would open before it listens.
    func replica(_ index: Int) async throws -> VeilContext {
        let replica = try await VeilContext.open(
            keysDirectory: root.appendingPathComponent("keys").path, dataDirectory: root.appendingPathComponent("data-\(index)").path,
            databaseURL: databaseURL, policy: context.policy, actor: "bench")
        try await replica.budget.warm()
        return replica
    }

    /// Deletes everything (a mirror catch-up still running finds its file gone and gives up).
    func remove() { try? FileManager.default.removeItem(at: root) }
}

/// Runs the real gateway on a free port of 127.0.0.1 around a benchmark.
enum BenchGateway {
    /// Starts the gateway over `services` (logging warnings only), hands `body` the bound port, then
    /// shuts the gateway down gracefully and returns what `body` returned. A failure of `body` still
    /// shuts the gateway down before it is rethrown.
    static func serving<T: Sendable>(
        _ services: GatewayServices, policy: Policy, _ body: (Int) async throws -> T
    ) async throws -> T {
        try await serving({ logger, onListening in
            buildApplication(
                configuration: GatewayConfiguration(host: "127.0.0.1", port: 0, policy: policy) { _, port in await onListening(port) },
                services: services, logger: logger)
        }, body)
    }

    /// Starts the application `make` builds (with a logger of warnings only, calling `onListening` with
    /// its bound port once it accepts connections), hands `body` that port, then shuts it down
    /// gracefully and returns what `body` returned. A failure of `body` still shuts it down first.
    static func serving<App: ApplicationProtocol, T: Sendable>(
        _ make: (_ logger: Logger, _ onListening: @escaping @Sendable (Int) async -> Void) -> App,
        _ body: (Int) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "veil.bench")
        logger.logLevel = .warning
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = make(logger) { port in
            portContinuation.yield(port)
            portContinuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw VeilError(.unavailable, "the gateway did not start") }
            let result: Result<T, any Error>
            do { result = .success(try await body(port)) } catch { result = .failure(error) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }
}

/// Latency statistics over a sample (nearest-rank percentiles).
enum Percentile {
    /// The nearest-rank `p`-quantile (0 < p ≤ 1) of an ascending sample; NaN when it is empty.
    static func of(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
    }
}
