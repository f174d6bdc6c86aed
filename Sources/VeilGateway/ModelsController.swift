import Foundation
import Hummingbird
import VeilCore
import VeilModels
import VeilReport

/// The model registry: `GET /v1/models` (every model, newest first, each with its kind, data window
/// and headline private metric: `ModelSummary`, all a list needs in one request), `GET /v1/models/{id}` (state,
/// review and card, as `veil models show --json`), and a reviewer's `POST /v1/models/{id}/approve`,
/// `/reject` and `/revoke` with `{"note": "..."}` (required, `ModelRegistry.checkedNote`; audited with
/// the token's name as reviewer) — an approval also takes `override_quality` for a model that does not
/// beat its baselines; `GET /v1/models/{id}/card.html`, the card as the console and `veil report model`
/// show it.
///
/// Reading and reviewing are registered on separate groups (`addReadRoutes`, `addReviewRoutes`) so
/// each carries its own role check. A card is shown as `ModelCard.shown` allows the caller's role: exact
/// holdout metrics only to a reviewer, only when the policy allows them, labelled not for release; its
/// quality gate (and a record's override note) only to reviewers and auditors (`AccessRules.seesQualityGate`).
struct ModelsController {
    let models: ModelRegistry
    let policy: Policy

    func addReadRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: list)
        group.get("{id}", use: show)
        group.get("{id}/card.html", use: card)
    }

    func addReviewRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.post("{id}/approve", use: approve)
        group.post("{id}/reject", use: reject)
        group.post("{id}/revoke", use: revoke)
    }

    /// `{"note": "..."}`: why the reviewer decided so; audited, so it must hold no personal data.
    struct Review: Decodable {
        let note: String
    }

    /// An approval: `{"note": "...", "override_quality": "..."}`, the override only for a model that
    /// does not beat its baselines (`QualityGate`).
    struct Approval: Decodable {
        let note: String
        let overrideQuality: String?

        enum CodingKeys: String, CodingKey {
            case note
            case overrideQuality = "override_quality"
        }
    }

    @Sendable func list(request: Request, context: VeilRequestContext) async throws -> Response {
        var summaries = try await models.summaries()
        if !AccessRules.seesQualityGate(context.principal?.role) {
            for index in summaries.indices { summaries[index].record.qualityOverride = nil }
        }
        return try JSONBody.response(["models": summaries])
    }

    @Sendable func show(request: Request, context: VeilRequestContext) async throws -> Response {
        try JSONBody.response(try await shownDescription(context))
    }

    /// `GET /v1/models/{id}/card.html`: the card as an HTML fragment with its plots inline
    /// (`ReportDocument.modelFragment`, what `veil report model` writes), every value escaped — the
    /// card as the caller's role may see it, as `show` gives it.
    @Sendable func card(request: Request, context: VeilRequestContext) async throws -> Response {
        let fragment = ReportDocument.modelFragment(try await shownDescription(context))
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: "default-src 'none'"],
            body: .init(byteBuffer: ByteBuffer(string: fragment)))
    }

    /// Model `{id}` with its card as the caller's role may see it (`ModelCard.shown`), and its quality
    /// gate only where `AccessRules.seesQualityGate` allows.
    private func shownDescription(_ context: VeilRequestContext) async throws -> ModelDescription {
        let role = context.principal?.role
        var description = try await models.describe(id: try Self.id(context))
        description.card = ModelCard.shown(description.card, to: role, policy: policy)
        if !AccessRules.seesQualityGate(role) {
            description.card.removeValue(forKey: "quality_gate")
            description.record.qualityOverride = nil
        }
        return description
    }

    @Sendable func approve(request: Request, context: VeilRequestContext) async throws -> Response {
        let id = try Self.id(context)
        let approval = try await JSONRequest.decode(Approval.self, from: request)
        let reviewer = context.actor
        let exactMetricsShown = ModelCard.showsExactMetrics(to: context.principal?.role, policy: policy)
        return try JSONBody.response(
            try await JSONRequest.validating {
                try await models.approve(
                    id: id, reviewer: reviewer, note: approval.note, qualityOverride: approval.overrideQuality,
                    exactMetricsShown: exactMetricsShown)
            })
    }

    @Sendable func reject(request: Request, context: VeilRequestContext) async throws -> Response {
        try await review(request, context) { try await models.reject(id: $0, reviewer: $1, note: $2) }
    }

    @Sendable func revoke(request: Request, context: VeilRequestContext) async throws -> Response {
        try await review(request, context) { try await models.revoke(id: $0, reviewer: $1, note: $2) }
    }

    private func review<Record: Encodable>(
        _ request: Request, _ context: VeilRequestContext,
        _ decide: (_ id: String, _ reviewer: String, _ note: String) async throws -> Record
    ) async throws -> Response {
        let id = try Self.id(context)
        let note = try await JSONRequest.decode(Review.self, from: request).note
        let reviewer = context.actor
        return try JSONBody.response(try await JSONRequest.validating { try await decide(id, reviewer, note) })
    }

    /// The `{id}` path parameter: 32 lowercase hex characters, else 400.
    static func id(_ context: VeilRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), id.utf8.count == 32,
            id.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else {
            throw APIError(.badRequest, code: "invalid_input", "id: must be a model id, 32 lowercase hex characters")
        }
        return id
    }
}
