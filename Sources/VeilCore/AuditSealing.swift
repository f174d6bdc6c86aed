/// An audit record before it is sealed: who did what, with which details. The store seals it — seq,
/// time, hash chain, signature — inside the transaction that makes the change it records.
public struct AuditDraft: Sendable, Hashable {
    /// A token name, or `cli`.
    public var actor: String
    public var action: AuditAction
    /// Pseudonyms, counts, names and parameters only: never a raw ID, a token or a secret.
    public var details: [String: JSONValue]

    public init(actor: String, action: AuditAction, details: [String: JSONValue]) {
        self.actor = actor
        self.action = action
        self.details = details
    }
}

/// A sealed audit record: one line of the chain (`{"body","hash","sig"}`, docs/audit.md), exactly as it
/// is stored and mirrored, with its seq and hash read out.
public struct SealedAuditRecord: Sendable, Hashable {
    public let seq: UInt64
    /// The record's 32-byte chain hash.
    public let hash: [UInt8]
    /// The line's text, without its final newline.
    public let line: String

    public init(seq: UInt64, hash: [UInt8], line: String) {
        self.seq = seq
        self.hash = hash
        self.line = line
    }

    /// The head this record makes when it is the last of its chain.
    public var head: AuditHead { AuditHead(seq: seq, hash: hash) }
}

/// Seals audit records: `VeilAudit`'s signer implements it with the audit signing key and the
/// injected clock; stores call it inside their write transactions (`VeilStore` cannot import
/// `VeilAudit`).
///
/// Contract: `seal` is pure apart from reading the clock — it writes nothing — and returns the record
/// with seq `head.seq + 1`, chained to `head.hash`. It throws `.invalidInput` for a draft that cannot be
/// recorded (a bad actor, a NaN in the details).
public protocol AuditSealer: Sendable {
    func seal(_ draft: AuditDraft, after head: AuditHead) throws -> SealedAuditRecord
}
