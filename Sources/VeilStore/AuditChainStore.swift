import VeilCore

/// A `budget.spend` record adopted into the store from a verified log, and the ledger row it gets.
public struct AdoptedSpend: Sendable, Equatable {
    /// The seq of the record.
    public var auditSeq: UInt64
    /// The row: with `id` set to an existing row's id, that row is linked to the record (a spend made
    /// before the chain moved into the store); with `id` set to a free id, a row is stored with that id
    /// (the record's `spend_id`); with `id` nil, a row is stored under a new id.
    public var spend: BudgetSpend

    public init(auditSeq: UInt64, spend: BudgetSpend) {
        self.auditSeq = auditSeq
        self.spend = spend
    }
}

/// The audit chain as the store keeps it: one row per sealed record (seq, hash, the exact line).
///
/// Contract:
/// - Records are sealed by the `AuditSealer` the store was opened with, inside the transaction that
///   makes the change they record (every store's audited write), so the chain and the state it
///   describes commit together. `append` (through `AuditRecording.record`) is for records with no
///   other change, in a transaction of its own.
/// - seq runs 1, 2, 3, … without gaps; each record's hash chains to the previous one. Concurrent
///   appends — in this process, in another process, on another replica — never share a seq.
/// - After a commit that added records, the store calls the observer it was opened with (the
///   process brings `audit.log`, the chain's mirror, up to date from the store).
public protocol AuditChainStore: AuditRecording {
    /// Seals and appends `draft` in a transaction of its own; returns the record once it is durable.
    func append(_ draft: AuditDraft) async throws -> SealedAuditRecord

    /// The last record's seq and hash (`AuditHead.empty` for an empty chain).
    func head() async throws -> AuditHead

    /// Up to `limit` records with seq > `after`, in seq order.
    func records(after seq: UInt64, limit: Int) async throws -> [SealedAuditRecord]

    /// True when the store was made before the chain lived in it and the existing log has not been
    /// imported yet (`adopt` with `completingImport`). Always false for a backend that never had a
    /// file-only log.
    func importPending() async throws -> Bool

    /// Appends records sealed elsewhere — a verified `audit.log` — and their spends' ledger rows, in one
    /// transaction: `records` must continue the chain (the first has seq head + 1 and chains to the
    /// head's hash; the caller has verified their signatures); each `AdoptedSpend` links or stores its
    /// row (never deleting one). With `completingImport`, the pending import is marked done in the same
    /// transaction. Throws `.conflict` when the records do not continue the chain or a row id is taken
    /// by another record's spend.
    func adopt(_ records: [SealedAuditRecord], spends: [AdoptedSpend], completingImport: Bool) async throws
}

extension AuditChainStore {
    public func record(_ draft: AuditDraft) async throws -> UInt64 {
        try await append(draft).seq
    }

    /// The record with seq `seq`, if stored.
    public func record(seq: UInt64) async throws -> SealedAuditRecord? {
        guard seq > 0 else { return nil }
        return try await records(after: seq - 1, limit: 1).first { $0.seq == seq }
    }

    /// Every record with seq > `after`, read `pageSize` at a time and handed to `body` in order.
    public func forEachRecord(
        after seq: UInt64 = 0, pageSize: Int = 10_000, _ body: ([SealedAuditRecord]) async throws -> Void
    ) async throws {
        var last = seq
        while true {
            let page = try await records(after: last, limit: pageSize)
            guard let end = page.last else { return }
            try await body(page)
            last = end.seq
        }
    }
}
