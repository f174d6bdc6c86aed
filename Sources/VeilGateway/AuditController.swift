import Foundation
import Hummingbird
import VeilLedger

/// `GET /v1/audit[?since=SEQ]`: the audit chain from the store in the log format, as
/// `application/x-ndjson` — what `veil audit export` prints, or with `since` the records after `SEQ`
/// (see `AuditExport.bytes(since:)`). Verify it with `veil audit verify --file` or
/// `scripts/verify_audit.py` and the audit public key.
///
/// `GET /v1/audit/status`: the chain verified server-side as `veil audit verify --json` does (signatures,
/// hashes, seq, every spend's cumulative ε recomputed, the ledger and the mirror compared) and against
/// the last checkpoint `veil audit checkpoint` signed here (`last_checkpoint`, when one was), with the
/// audit public key it used and the commands an auditor runs to check an export independently.
struct AuditController {
    let export: AuditExport
    let verification: AuditVerificationSource?

    func addRoutes(to group: RouterGroup<VeilRequestContext>) {
        group.get(use: log)
        if verification != nil { group.get("status", use: status) }
    }

    /// The status page's answer: the verification (`ChainVerification`'s keys), the last checkpoint it
    /// was checked against, and how to repeat it.
    struct Status: Encodable {
        let verification: ChainVerification
        let publicKey: String
        let lastCheckpoint: Checkpoint?
        let checkpoint: String
        let commands: [String]

        enum CodingKeys: String, CodingKey {
            case verification, checkpoint, commands
            case publicKey = "public_key"
            case lastCheckpoint = "last_checkpoint"
        }
    }

    /// The last checkpoint signed on this server: the head it vouches for and when it was made.
    struct Checkpoint: Encodable {
        let seq: UInt64
        let hash: String
        let time: String
    }

    @Sendable func status(request: Request, context: VeilRequestContext) async throws -> Response {
        guard let verification else { throw APIError(.notFound, code: "not_found", "no audit verification on this server") }
        let kept = try await verification.service.lastCheckpoint()
        let result = try await verification.service.verify(publicKey: verification.publicKey, checkpoint: kept)
        let note =
            kept == nil
            ? "no checkpoint was signed on this server yet: run `veil audit checkpoint`, keep its output where this host cannot write, and verify against it with --checkpoint"
            : "the chain was verified against the last checkpoint signed here (seq and hash above); this copy lives on the host it vouches for, so keep your own copy where this host cannot write and verify against it with --checkpoint"
        return try JSONBody.response(
            Status(
                verification: result, publicKey: Data(verification.publicKey.bytes).base64EncodedString(),
                lastCheckpoint: kept.map { Checkpoint(seq: $0.seq, hash: $0.hash, time: $0.time) },
                checkpoint: note,
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
