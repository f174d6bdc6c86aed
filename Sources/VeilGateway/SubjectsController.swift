import Foundation
import Hummingbird
import VeilIngest

/// `DELETE /v1/subjects/{user_id}`: erase one user's events and identity-vault row.
///
/// The user ID arrives percent-encoded in the path; it is decoded here, handed to the use case and
/// never logged (logs and metrics see only the route template).
struct SubjectsController<Eraser: SubjectErasing> {
    let eraser: Eraser

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.delete("{user_id}", use: erase)
    }

    @Sendable func erase(request: Request, context: VeilRequestContext) async throws -> Response {
        guard let raw = context.parameters.get("user_id"), let userID = raw.removingPercentEncoding, !userID.isEmpty else {
            throw APIError(.badRequest, code: "invalid_input", "user_id: must be a non-empty, correctly percent-encoded path segment")
        }
        let report = try await eraser.erase(userID: userID, actor: context.actor)
        return try JSONBody.response(report)
    }
}
