import Hummingbird
import VeilCore

/// The per-request context of the Veil gateway: Hummingbird's core storage plus the authenticated
/// principal, set by `RequireRoleMiddleware` before any protected handler runs.
public struct VeilRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who presented a valid token; nil on unauthenticated routes.
    public var principal: Principal?

    /// The name use cases record as actor (audit log, ledger principal): the token's name. Every
    /// handler that calls a use case sits behind `RequireRoleMiddleware`, so "anonymous" never reaches one.
    public var actor: String { principal?.name ?? "anonymous" }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
    }
}
