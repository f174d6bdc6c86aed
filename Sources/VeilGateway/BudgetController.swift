import Hummingbird
import VeilLedger
import VeilReport

/// `GET /v1/budget`: the dataset's privacy budget — caps, spent (composed), remaining, per principal,
/// and each spend — as `veil budget --json` prints it (`BudgetStatus`). Reads only; spends nothing.
/// `GET /v1/budget/chart.svg`: the same status as a chart — cumulative ε against the cap, a point per
/// spend titled with its purpose (`BudgetChart`, what `veil report budget` draws).
/// `GET /v1/budget/principals.svg`: cumulative ε by principal, each principal's own spends composed, with
/// the principal caps the policy sets (`BudgetChart.principalsChart`).
struct BudgetController {
    let budget: BudgetService

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: status)
        group.get("chart.svg", use: chart)
        group.get("principals.svg", use: principalsChart)
    }

    @Sendable func chart(request: Request, context: VeilRequestContext) async throws -> Response {
        SVGBody.response(BudgetChart.chart(try await budget.status()).svg())
    }

    @Sendable func principalsChart(request: Request, context: VeilRequestContext) async throws -> Response {
        SVGBody.response(BudgetChart.principalsChart(try await budget.status()).svg())
    }

    @Sendable func status(request: Request, context: VeilRequestContext) async throws -> Response {
        try JSONBody.response(try await budget.status())
    }
}
