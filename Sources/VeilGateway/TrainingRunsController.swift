import Hummingbird
import VeilModels

/// Training over HTTP: `POST /v1/training-runs` with a `TrainingRequest` (the fields of `veil train`)
/// answers `202 {"id", "status": "running"}` (and `Location`) at once and trains in the background;
/// `GET /v1/training-runs/{id}` shows the run (`TrainingRuns.Run`); `GET /v1/training-runs` lists them.
///
/// A request breaking a rule is 422 naming the field, before anything starts. A budget refusal
/// happens inside the run and shows as `failed` with the ledger's message.
struct TrainingRunsController {
    let runs: TrainingRuns

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.post(use: start)
        group.get(use: list)
        group.get("{id}", use: show)
    }

    /// `GET /v1/training-runs`: the runs this server remembers, newest first, without their cards.
    @Sendable func list(request: Request, context: VeilRequestContext) async throws -> Response {
        try JSONBody.response(["runs": await runs.all()])
    }

    @Sendable func start(request: Request, context: VeilRequestContext) async throws -> Response {
        let body = try await JSONRequest.decode(TrainingRequest.self, from: request)
        let principal = context.actor
        let run = try await JSONRequest.validating { try await runs.start(body, principal: principal) }
        return try JSONBody.response(run, status: .accepted, headers: [.location: "/v1/training-runs/\(run.id)"])
    }

    @Sendable func show(request: Request, context: VeilRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        return try JSONBody.response(try await runs.run(id: id))
    }
}
