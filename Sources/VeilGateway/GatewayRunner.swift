import Hummingbird
import Logging
import ServiceLifecycle

/// Runs the gateway as a ServiceLifecycle service group.
public enum GatewayRunner {
    /// Runs `app` until SIGTERM or SIGINT, then shuts down gracefully: the server stops accepting
    /// connections and lets in-flight requests — batches being committed — finish before returning.
    public static func run(_ app: some ApplicationProtocol, logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
