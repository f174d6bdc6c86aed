import Logging
import ServiceLifecycle
import VeilModels

/// Writes the prediction counts of `predictor` to the audit log (`model.predictions`) every `interval`
/// and once more when the service group shuts down — after the HTTP server, so requests still in
/// flight are counted (`GatewayRunner` starts it before the server and ServiceLifecycle stops services
/// in reverse order). A failed write is logged (no count, no ID) and retried at the next tick; what a
/// killed process had not written is lost (`PredictionTally`).
public struct PredictionCountFlusher: Service {
    let predictor: PredictionService
    let actor: String
    let interval: Duration
    let logger: Logger

    public init(predictor: PredictionService, actor: String, interval: Duration = .seconds(60), logger: Logger) {
        self.predictor = predictor
        self.actor = actor
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let interval = interval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            await flush()
        }
    }

    private func flush() async {
        do {
            try await predictor.flushCounts(actor: actor)
        } catch {
            logger.error("the prediction counts could not be written to the audit log; retrying at the next flush")
        }
    }
}
