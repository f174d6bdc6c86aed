import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs the gateway as a ServiceLifecycle service group.
public enum GatewayRunner {
    /// The service group that runs `app` beside `background` services and shuts it down gracefully on
    /// `gracefulShutdownSignals` (or `triggerGracefulShutdown()`): the server stops accepting
    /// connections and lets in-flight requests — batches being committed — finish and answer before
    /// `run()` returns. The background services (e.g. `PredictionCountFlusher`) start before the server
    /// and are shut down after it, so they see every request it answered.
    public static func serviceGroup(
        _ app: some ApplicationProtocol, background: [any Service] = [], logger: Logger,
        gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]
    ) -> ServiceGroup {
        ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: background + [app], gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }

    /// Runs `app` and `background` until SIGTERM or SIGINT, then shuts down gracefully (see `serviceGroup`).
    public static func run(_ app: some ApplicationProtocol, background: [any Service] = [], logger: Logger) async throws {
        try await serviceGroup(app, background: background, logger: logger).run()
    }
}
