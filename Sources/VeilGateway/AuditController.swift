import Foundation
import Hummingbird
import VeilLedger

/// `GET /v1/audit[?since=SEQ]`: the audit chain from the store in the log format, as
/// `application/x-ndjson` — what `veil audit export` prints, or with `since` the records after `SEQ`
/// (see `AuditExport.bytes(since:)`). Verify it with `veil audit verify --file` or
/// `scripts/verify_audit.py` and the audit public key.
///
/// `GET /v1/audit/status`: the chain verified server-side as `veil audit verify --json` does (signatures,
/// hashes, seq, every spend's cumulative ε recomputed, the ledger and the mirror compared), with the
/// audit public key it used and the commands an auditor runs to check an export independently.
struct AuditController {
    let export: AuditExport
    let verification: AuditVerificationSource?

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: log)
        if verification != nil { group.get("status", use: status) }
    }

    /// The status page's answer: the verification (`ChainVerification`'s keys) and how to repeat it.
    struct Status: Encodable {
        let verification: ChainVerification
        let publicKey: String
        let checkpoint: String
        let commands: [String]

        enum CodingKeys: String, CodingKey {
            case verification, checkpoint, commands
            case publicKey = "public_key"
        }
    }

    @Sendable func status(request: Request, context: VeilRequestContext) async throws -> Response {
        guard let verification else { throw APIError(.notFound, code: "not_found", "no audit verification on this server") }
        let result = try await verification.service.verify(publicKey: verification.publicKey)
        return try JSONBody.response(
            Status(
                verification: result, publicKey: Data(verification.publicKey.bytes).base64EncodedString(),
                checkpoint:
                    "the server keeps no checkpoint: keep `veil audit checkpoint` output where this host cannot write, and verify against it with --checkpoint",
                commands: [
                    "curl -sf -H \"Authorization: Bearer $TOKEN\" http://HOST:PORT/v1/audit > audit.ndjson",
                    "veil audit verify --file audit.ndjson --public-key audit.pub --checkpoint checkpoint.json",
                    "python3 scripts/verify_audit.py audit.ndjson audit.pub --checkpoint checkpoint.json",
                ]))
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
