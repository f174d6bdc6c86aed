import Foundation
import VeilAudit
import VeilCore
import VeilCrypto

/// The audit log's use cases for operators and auditors: verify a log (with every spend's cumulative ε
/// recomputed), verify-then-checkpoint, and the `key.init` record that starts a data directory's log.
/// `veil audit verify | checkpoint` and `veil keys init` call these; `AuditExport` serves the bytes.
///
/// Contract:
/// - `verify` and `checkpoint` run exactly the same checks: chain, seq, signatures, and the cumulative
///   ε of every `budget.spend` recomputed with the ledger's accountant (`AuditAccountant`).
/// - `checkpoint` signs nothing unless that verification passes: a log `verify` rejects never gets a
///   checkpoint vouching for it.
public struct AuditService: Sendable {
    /// The log file.
    public let path: String
    private let clock: WallClock

    /// The log at `path`; `clock` stamps checkpoints and `key.init` (tests pass a fixed one).
    public init(path: String, clock: WallClock = .system) {
        self.path = path
        self.clock = clock
    }

    /// The log of a data directory (`<dataDirectory>/audit.log`).
    public init(dataDirectory: String, clock: WallClock = .system) {
        self.init(path: AuditLog.path(dataDirectory: dataDirectory), clock: clock)
    }

    /// Verifies the whole log with `publicKey` (and against `checkpoint`, when given), recomputing the
    /// cumulative ε of every spend. Throws only when the log cannot be read (`.notFound`); a log that
    /// fails a check is a result with `failure` set.
    public func verify(publicKey: SigningPublicKey, checkpoint: AuditCheckpoint? = nil) throws -> AuditVerification {
        let lines = AuditVerifier.lines(of: try AuditLog.contents(path: path))
        return AuditVerifier.verify(
            lines: lines, publicKey: publicKey, checkpoint: checkpoint, recomputeEpsilon: AuditAccountant.epsilon)
    }

    /// Verifies the log as `verify` does and signs a checkpoint of its head with `signingKey`. Throws
    /// `.integrity` naming the log, the first failing line and seq, and the reason, when verification
    /// fails; nothing is signed then.
    public func checkpoint(signingKey: SigningKey) throws -> AuditCheckpoint {
        let result = try verify(publicKey: signingKey.publicKey)
        if let failure = result.failure {
            throw VeilError(
                .integrity, field: path,
                "does not verify (\(failure.line.map { "line \($0), " } ?? "")seq \(failure.seq ?? 0): \(failure.reason)); refusing to sign a checkpoint")
        }
        return AuditCheckpoint(head: result.head, time: clock.now(), signingKey: signingKey)
    }

    /// What `startLog` did.
    public enum LogStart: Sendable, Equatable {
        /// The log was created with `key.init` as record `seq`.
        case recorded(seq: UInt64)
        /// A log already exists there (signed by other keys, or started before); nothing was written.
        case alreadyStarted
    }

    /// Starts the data directory's audit log with a `key.init` record (epoch and both public keys)
    /// signed by the new key set's audit key. A directory that already has a log is left alone: its
    /// records stay verifiable with the audit key that signed them.
    public static func startLog(
        dataDirectory: String, keys: KeyRing, actor: String, clock: WallClock = .system
    ) throws -> LogStart {
        guard !FileManager.default.fileExists(atPath: AuditLog.path(dataDirectory: dataDirectory)) else {
            return .alreadyStarted
        }
        let seq = try AuditLog(dataDirectory: dataDirectory, signingKey: keys.auditSigningKey, clock: clock).record(
            actor: actor, action: .keyInit,
            details: [
                "epoch": .int(Int64(keys.epoch)),
                "audit_public_key": .string(Data(keys.auditSigningKey.publicKey.bytes).base64EncodedString()),
                "escrow_public_key": .string(Data(keys.escrowPublicKey.bytes).base64EncodedString()),
            ])
        return .recorded(seq: seq)
    }
}
