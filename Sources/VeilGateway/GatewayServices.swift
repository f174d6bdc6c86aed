import VeilCore
import VeilService

/// The service-layer use cases the HTTP API exposes, one property per use case.
///
/// Extension point: a later endpoint (budget, audit, models, predict, queries) adds its use-case
/// protocol here as one more property, and one controller registered in `buildRouter`.
public struct GatewayServices: Sendable {
    /// `POST /v1/events`.
    public var ingestor: any EventIngesting
    /// `DELETE /v1/subjects/{user_id}`.
    public var eraser: any SubjectErasing
    /// Bearer-token checks for every authenticated endpoint.
    public var authenticator: any TokenAuthenticating

    public init(ingestor: any EventIngesting, eraser: any SubjectErasing, authenticator: any TokenAuthenticating) {
        self.ingestor = ingestor
        self.eraser = eraser
        self.authenticator = authenticator
    }
}
