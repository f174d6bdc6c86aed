import Foundation
import Hummingbird
import VeilIngest

/// `POST /v1/events`: one batch of events, NDJSON or a JSON array, all or nothing.
///
/// Order of checks: the content type (415), then `RequestBody`'s rules (content encoding 415, the body
/// size while it is read 413 — never buffering more than the policy's `ingest.maxBodyBytes` — and
/// framing 400), then the ingest use case, whose outcome maps to 200 / 422 / 413 / 503 (see `APIError`).
struct EventsController<Ingestor: EventIngesting> {
    let ingestor: Ingestor
    let maxBodyBytes: Int
    let metrics: GatewayMetrics

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.post(use: ingest)
    }

    @Sendable func ingest(request: Request, context: VeilRequestContext) async throws -> Response {
        let format = try Self.format(contentType: request.headers[.contentType])
        let body = try await collectBody(request)
        let actor = context.actor
        let summary: IngestSummary
        do {
            summary = try await ingestor.ingestBatch(Data(body.readableBytesView), format: format, actor: actor)
        } catch let rejected as BatchRejected {
            metrics.eventsRejected.increment(by: Int64(rejected.rejectedEvents))
            throw APIError(rejected: rejected)
        }
        metrics.eventsAccepted.increment(by: Int64(summary.accepted))
        metrics.eventsDuplicate.increment(by: Int64(summary.duplicates))
        return try JSONBody.response(summary)
    }

    /// The batch format of a `Content-Type` (parameters such as `charset` ignored), or 415.
    static func format(contentType: String?) throws -> EventBatchFormat {
        let mediaType = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        switch mediaType {
        case "application/x-ndjson": return .ndjson
        case "application/json": return .jsonArray
        default:
            throw APIError(
                .unsupportedMediaType, code: "unsupported_media_type",
                "Content-Type must be application/x-ndjson (one event per line) or application/json (an array of events)")
        }
    }

    /// The whole body, refused with 413 as soon as it passes `maxBodyBytes` (or declares it will).
    private func collectBody(_ request: Request) async throws -> ByteBuffer {
        let tooLarge = APIError(
            .contentTooLarge, code: "too_large",
            "the request body is larger than \(maxBodyBytes) bytes (policy ingest.max_body_bytes); send smaller batches")
        return try await RequestBody.collect(request, limit: maxBodyBytes, tooLarge: tooLarge)
    }
}
