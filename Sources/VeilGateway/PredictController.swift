import Hummingbird
import VeilModels

/// `POST /v1/predict`: scores from the approved model for a task. The body is a `PredictionRequest`
/// (one `user_id` or `pseudonym`, or up to 1,000 `subjects`, and an optional `at`); the answer is one
/// `Prediction` or `{"predictions": [...]}` in request order, each saying whether the stored data
/// reaches `at` (`freshness.stale`).
///
/// Raw user IDs are pseudonymised in memory and never returned, logged or put in an error: answers
/// and messages carry pseudonyms. No approved model for the task is 404; a single subject with no
/// event in the model's observation window is 404 naming its pseudonym; in a list, that subject's entry
/// is `{"index", "pseudonym", "error": "not_found", "message"}` and the others are scored.
struct PredictController {
    let predictor: PredictionService
    let metrics: GatewayMetrics

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.post(use: predict)
    }

    @Sendable func predict(request: Request, context: VeilRequestContext) async throws -> Response {
        let body = try await JSONRequest.decode(PredictionRequest.self, from: request)
        let outcomes = try await JSONRequest.validating { try await predictor.predict(body.subjects, task: body.task, at: body.at) }
        metrics.recordPredictions(outcomes.count(where: \.isAnswered), task: body.task.rawValue)
        if body.isSingle { return try JSONBody.response(try outcomes[0].get()) }
        return try JSONBody.response(["predictions": outcomes])
    }
}
