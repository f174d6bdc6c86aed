import Hummingbird
import VeilIngest

/// `GET /v1/stats`: the operator's exact event statistics (`OperatorStatisticsReport`, as `veil stats
/// --json` prints it) — per UTC day and type, the stored range, the database's size. Not
/// differentially private, so role admin only; every read is audited (`stats.read`, the token's name
/// as actor) before the answer is sent.
struct StatsController {
    let statistics: OperatorStatistics

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: read)
    }

    @Sendable func read(request: Request, context: VeilRequestContext) async throws -> Response {
        try JSONBody.response(try await statistics.read(actor: context.actor))
    }
}
