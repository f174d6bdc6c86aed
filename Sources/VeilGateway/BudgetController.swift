import Hummingbird
import VeilLedger

/// `GET /v1/budget`: the dataset's privacy budget — caps, spent (composed), remaining, per principal,
/// and each spend — as `veil budget --json` prints it (`BudgetStatus`). Reads only; spends nothing.
struct BudgetController {
    let budget: BudgetService

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: status)
    }

    @Sendable func status(request: Request, context: VeilRequestContext) async throws -> Response {
        try JSONBody.response(try await budget.status())
    }
}
