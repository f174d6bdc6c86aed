import Hummingbird
import VeilModels

/// `POST /v1/recommendations`: the top items of the approved `next_item` model. The body is a
/// `RecommendationRequest` (one `user_id` or `pseudonym`, or up to 1,000 `subjects`; `at`; `k`;
/// `exclude_seen`); the answer is `{"recommendations": [...]}` in request order, one `Recommendation`
/// per subject, each saying whether the stored data reaches `at` (`freshness`).
///
/// A subject without events in the model's window gets a `SubjectFailure` entry (index, pseudonym,
/// error code and message) instead; the batch still succeeds. No approved `next_item` model is 404. Raw user IDs are pseudonymised in memory and never returned, logged or
/// put in an error.
struct RecommendationsController {
    let predictor: PredictionService
    let metrics: GatewayMetrics

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.post(use: recommend)
    }

    @Sendable func recommend(request: Request, context: VeilRequestContext) async throws -> Response {
        let body = try await JSONRequest.decode(RecommendationRequest.self, from: request)
        let recommendations = try await JSONRequest.validating {
            try await predictor.recommend(body.subjects, k: body.k, excludeSeen: body.excludeSeen, at: body.at)
        }
        metrics.recordRecommendations(recommendations.count(where: \.isAnswered))
        return try JSONBody.response(["recommendations": recommendations])
    }
}
