import VeilCore
import VeilCrypto

/// Checks an audit log with nothing but the audit public key. Pure: no files, no clock.
public enum AuditVerifier {
    /// Recomputes a dataset's cumulative ε from the mechanism objects of its spends so far (oldest
    /// first), the δ of the latest and the accountant it names (its `accountant` object, nil in records
    /// that have none); nil when it cannot. Supplied by whoever owns the accountant.
    public typealias EpsilonRecomputation = (_ mechanisms: [JSONValue], _ delta: Double, _ accountant: JSONValue?) -> Double?

    /// Verifies `lines` (the log's lines without newlines, first record first).
    ///
    /// Checks, record by record, stopping at the first failure: each line is `{"body","hash","sig"}`;
    /// `seq` runs 1, 2, 3, … with the line number; `hash` = BLAKE2b-256(previous hash ‖ body bytes)
    /// from 32 zero bytes; `sig` verifies over the hash with `publicKey`; the body has `seq`, `time`,
    /// `actor`, `action` and `details`. With `checkpoint`: its signature verifies, the log reaches its
    /// seq, and the record at that seq has its hash. With `recomputeEpsilon`: every `budget.spend`
    /// record's `cumulative_epsilon` matches the recomputation (relative tolerance 1e-9); without it
    /// this check is skipped and the result says so. Always: every private `model.train` record that
    /// names its `spend_id` is linked to that spend (`ModelSpendLinkage`).
    public static func verify(
        lines: [String], publicKey: SigningPublicKey, checkpoint: AuditCheckpoint?,
        recomputeEpsilon: EpsilonRecomputation? = nil
    ) -> AuditVerification {
        var replay = SpendReplay(recompute: recomputeEpsilon)
        var linkage = ModelSpendLinkage()
        var head = AuditHead.empty
        func result(_ failure: AuditFailure?) -> AuditVerification {
            AuditVerification(
                recordsChecked: Int(head.seq), head: head, failure: failure, epsilon: replay.summary, linkage: linkage.summary,
                checkpointSeq: checkpoint?.seq)
        }
        if let checkpoint, !checkpoint.isValid(publicKey: publicKey) {
            return result(AuditFailure(line: nil, seq: checkpoint.seq, reason: "the checkpoint's signature does not verify with the audit public key"))
        }
        for (index, text) in lines.enumerated() {
            let expected = head.seq + 1
            switch check(text, previous: head.hash, expected: expected, publicKey: publicKey, checkpoint: checkpoint) {
            case .failure(let failure):
                return result(AuditFailure(line: index + 1, seq: failure.seq ?? expected, reason: failure.reason))
            case .success(let (body, hash)):
                for reason in [replay.check(body), linkage.check(body)] {
                    if let reason { return result(AuditFailure(line: index + 1, seq: body.seq, reason: reason)) }
                }
                head = AuditHead(seq: body.seq, hash: hash)
            }
        }
        if let checkpoint, checkpoint.seq > head.seq {
            let reason = "the log ends at seq \(head.seq) but the checkpoint vouches for seq \(checkpoint.seq): records were removed (truncation or rollback)"
            return result(AuditFailure(line: lines.count + 1, seq: head.seq + 1, reason: reason))
        }
        return result(nil)
    }

    /// Splits a log file's bytes into lines (a final newline ends the last line; it does not start one).
    public static func lines(of bytes: [UInt8]) -> [String] {
        var pieces = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        return pieces.map { String(decoding: $0, as: UTF8.self) }
    }

    private struct LineFailure: Error {
        let seq: UInt64?
        let reason: String
    }

    /// One record's checks, in an order that names the most specific cause.
    private static func check(
        _ text: String, previous: [UInt8], expected: UInt64, publicKey: SigningPublicKey, checkpoint: AuditCheckpoint?
    ) -> Result<(AuditBody, [UInt8]), LineFailure> {
        let line: AuditLine
        switch AuditLine.parse(text) {
        case .failure(let shape): return .failure(LineFailure(seq: nil, reason: shape.reason))
        case .success(let parsed): line = parsed
        }
        let body = AuditBody.parse(line.body)
        if case .success(let parsed) = body, parsed.seq != expected {
            return .failure(LineFailure(seq: parsed.seq, reason: "seq is \(parsed.seq) where \(expected) was expected: records were removed, reordered or inserted"))
        }
        guard AuditChain.link(previous: previous, body: line.body) == line.hash else {
            return .failure(LineFailure(seq: nil, reason: "hash does not match BLAKE2b-256(previous hash ‖ body): this body was altered, or the record before it was removed, reordered or altered"))
        }
        guard publicKey.isValidSignature(line.signature, for: line.hash) else {
            return .failure(LineFailure(seq: nil, reason: "sig does not verify with the audit public key"))
        }
        let parsed: AuditBody
        switch body {
        case .failure(let shape): return .failure(LineFailure(seq: nil, reason: shape.reason))
        case .success(let value): parsed = value
        }
        if let checkpoint, checkpoint.seq == parsed.seq, Hex.encode(line.hash) != checkpoint.hash {
            return .failure(LineFailure(seq: parsed.seq, reason: "hash differs from the checkpoint's: the log was rewritten after the checkpoint was taken"))
        }
        return .success((parsed, line.hash))
    }
}
