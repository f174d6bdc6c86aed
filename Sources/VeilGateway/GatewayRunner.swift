import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs the gateway as a ServiceLifecycle service group.
public enum GatewayRunner {
    /// The service group that runs `app` and shuts it down gracefully on `gracefulShutdownSignals`
    /// (or `triggerGracefulShutdown()`): the server stops accepting connections and lets in-flight
    /// requests — batches being committed — finish and answer before `run()` returns.
    public static func serviceGroup(
        _ app: some ApplicationProtocol, logger: Logger, gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]
    ) -> ServiceGroup {
        ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [app], gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }

    /// Runs `app` until SIGTERM or SIGINT, then shuts down gracefully (see `serviceGroup`).
    public static func run(_ app: some ApplicationProtocol, logger: Logger) async throws {
        try await serviceGroup(app, logger: logger).run()
    }
}
