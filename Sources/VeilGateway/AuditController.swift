import Hummingbird
import VeilLedger

/// `GET /v1/audit[?since=SEQ]`: the audit chain from the store in the log format, as
/// `application/x-ndjson` — what `veil audit export` prints, or with `since` the records after `SEQ`
/// (see `AuditExport.bytes(since:)`). Verify it with `veil audit verify --file` or
/// `scripts/verify_audit.py` and the audit public key.
struct AuditController {
    let export: AuditExport

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: log)
    }

    @Sendable func log(request: Request, context: VeilRequestContext) async throws -> Response {
        // A misspelt parameter (`sinc=5`) must not silently return the whole log.
        for (position, parameter) in request.uri.queryParameters.enumerated() where parameter.key != "since" {
            throw APIError(
                .badRequest, code: "invalid_input", "query parameter #\(position + 1) is not known; the only parameter is since")
        }
        var since: UInt64?
        if let text = request.uri.queryParameters.get("since") {
            guard let value = UInt64(text) else {
                throw APIError(.badRequest, code: "invalid_input", "since: must be a record seq, an integer ≥ 0")
            }
            since = value
        }
        let bytes = try await export.bytes(since: since)
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
