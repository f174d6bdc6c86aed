import Hummingbird
import VeilCore
import VeilModels

/// Training over HTTP: `POST /v1/training-runs` with a `TrainingRequest` (the fields of `veil train`)
/// answers `202 {"id", "status": "running"}` (and `Location`) at once and trains in the background;
/// `GET /v1/training-runs/{id}` shows the run (`TrainingRuns.Run`); `GET /v1/training-runs` lists them.
///
/// A request breaking a rule is 422 naming the field, before anything starts. A budget refusal
/// happens inside the run and shows as `failed` with the ledger's message. A succeeded run's card is
/// shown as `ModelCard.shown` allows the caller's role (a trainer never sees exact holdout metrics).
struct TrainingRunsController {
    let runs: TrainingRuns
    let policy: Policy

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
        var run = try await runs.run(id: id)
        if case .object(let card)? = run.card {
            run.card = .object(ModelCard.shown(card, to: context.principal?.role, policy: policy))
        }
        return try JSONBody.response(run)
    }
}
