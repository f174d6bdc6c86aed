import VeilCore

/// How the gateway listens and which limits it enforces at the door.
public struct GatewayConfiguration: Sendable {
    /// Address to bind; keep the default loopback address unless a proxy in front terminates TLS.
    public var host: String
    /// Port to bind; 0 picks a free port (reported through `onListening`).
    public var port: Int
    /// Limits enforced while a request is read (`ingest.maxBodyBytes`); the rest of the policy is the
    /// service layer's business.
    public var policy: Policy
    /// Called once the server is accepting connections, with the bound host and port.
    public var onListening: @Sendable (_ host: String, _ port: Int) async -> Void

    public init(
        host: String = "127.0.0.1", port: Int = 8080, policy: Policy = Policy(),
        onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) {
        self.host = host
        self.port = port
        self.policy = policy
        self.onListening = onListening
    }
}
