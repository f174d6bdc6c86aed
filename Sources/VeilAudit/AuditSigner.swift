import Foundation
import VeilCore
import VeilCrypto

/// Seals audit records with the host's audit signing key (the `AuditSealer` the stores are opened
/// with): the body (docs/audit.md) with the next seq and the injected clock's time, the BLAKE2b chain
/// hash over the previous record's hash, and the Ed25519 signature of that hash.
public struct AuditSigner: AuditSealer {
    private let signingKey: SigningKey
    private let clock: WallClock

    /// `clock` supplies record times (tests pass a fixed one).
    public init(signingKey: SigningKey, clock: WallClock = .system) {
        self.signingKey = signingKey
        self.clock = clock
    }

    /// Throws `invalidInput` for a bad actor (empty, over 200 characters, or more than one line) or
    /// details JSON cannot carry.
    public func seal(_ draft: AuditDraft, after head: AuditHead) throws -> SealedAuditRecord {
        let actor = draft.actor
        guard !actor.isEmpty, actor.count <= 200, !actor.contains(where: \.isNewline) else {
            throw VeilError(.invalidInput, field: "actor", "must be a token name or `cli` (1 to 200 characters, one line)")
        }
        let seq = head.seq + 1
        let body = try AuditBody(
            seq: seq, time: AuditTime.format(clock.now()), actor: actor, action: draft.action.rawValue, details: draft.details
        ).jsonText()
        let hash = AuditChain.link(previous: head.hash, body: body)
        let line = AuditLine(body: body, hash: hash, signature: signingKey.signature(for: hash))
        return SealedAuditRecord(seq: seq, hash: hash, line: line.text)
    }
}
