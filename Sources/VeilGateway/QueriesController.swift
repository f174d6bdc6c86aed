import Hummingbird
import VeilQueries

/// `POST /v1/queries`: one differentially private aggregate. The body is a `QuerySpec` (the fields of
/// `veil query`); the answer is the `QueryAnswer` JSON `veil query --json` prints.
///
/// The cost is reserved in the ledger for the token's name in role `analyst` before any event is
/// read. A broken rule is 422 naming the field (nothing spent); a refusal is 403 `budget_exceeded`
/// with the ledger's message (nothing spent).
///
/// `POST /v1/queries/explain`: the same body, answered with the `QueryExplanation` JSON
/// `veil query --explain --json` prints — cost, noise and bias warnings — reading no event and
/// spending nothing.
struct QueriesController {
    let queries: QueryService

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.post(use: run)
        group.post("explain", use: explain)
    }

    @Sendable func run(request: Request, context: VeilRequestContext) async throws -> Response {
        let spec = try await JSONRequest.decode(QuerySpec.self, from: request)
        let principal = context.actor
        let answer = try await JSONRequest.validating { try await queries.run(spec, principal: principal, role: .analyst) }
        return try JSONBody.response(answer)
    }

    @Sendable func explain(request: Request, context: VeilRequestContext) async throws -> Response {
        let spec = try await JSONRequest.decode(QuerySpec.self, from: request)
        let explanation = try await JSONRequest.validating { try queries.explain(spec) }
        return try JSONBody.response(explanation)
    }
}
