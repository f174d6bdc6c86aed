import ArgumentParser
import Foundation
import Logging
import VeilGateway
import VeilRuntime

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API (docs/api.md) until SIGTERM or SIGINT.",
        discussion: """
            Prints `listening on http://HOST:PORT` on stderr once it accepts connections; request logs go to \
            stderr too (level from env LOG_LEVEL, default info). On SIGTERM or SIGINT it stops accepting \
            connections, lets in-flight batches commit and answer, writes the prediction counts to the \
            audit log (also written every minute: `model.predictions`), and exits. Training runs started with \
            POST /v1/training-runs live in memory and are abandoned on exit; models already registered \
            and budget already reserved stay.

            Example:
              veil serve --host 127.0.0.1 --port 8080 --keys keys --data-dir veil-data
            """
    )

    @Option(help: ArgumentHelp("Address to bind.", valueName: "host"))
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("Port to bind (0 picks a free one).", valueName: "port"))
    var port = 8080

    @OptionGroup var service: ServiceOptions

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Environment.value("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        try await service.withContext { context in
            // The ledger read and composed before the first reservation, not under the ledger's lock in it.
            try await context.budget.warm()
            let gatewayServices = GatewayServices(context: context)
            let configuration = GatewayConfiguration(host: host, port: port, policy: context.policy.policy) { host, port in
                Output.note("listening on http://\(host):\(port)")
            }
            let logger = Logger(label: "veil.gateway")
            let flusher = gatewayServices.predictor.map { PredictionCountFlusher(predictor: $0, actor: service.principal, logger: logger) }
            try await GatewayRunner.run(
                buildApplication(configuration: configuration, services: gatewayServices, logger: logger),
                background: flusher.map { [$0] } ?? [], logger: logger)
        }
    }
}
