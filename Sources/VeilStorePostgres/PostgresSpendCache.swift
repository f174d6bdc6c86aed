import Foundation
import Logging
import PostgresNIO
import Synchronization
import VeilCore
import VeilStore

/// The spends of each dataset as this process's reservations last saw them committed, so that a
/// reservation group reads only the spends committed since (by any replica) instead of the whole
/// ledger under the ledger row's lock.
///
/// Contract: `read` (called under the dataset's ledger row lock) returns exactly the dataset's rows
/// in id order, as `SELECT … WHERE dataset = … ORDER BY id` would. The kept list is used only when
/// the database still holds it unchanged, which one query checks against an anchor: the kept list's
/// last spend, its `budget.spend` record's seq and that record's hash. The hash chains every earlier
/// record, and each spend's record is sealed in the transaction that stores its row, so a database
/// whose record at that seq has that hash holds the same spend records up to it — and so the same
/// spend rows (rows are never updated or deleted, a restore brings rows and records back together);
/// the number of the dataset's rows up to the anchor's id must also equal the kept list's length (a
/// row stored with an id of its own, `AuditChainStore.adopt`, would change it). Then only rows after
/// the anchor's id are read. Otherwise (another database, a restore to before the anchor, a kept
/// spend without a record) the whole ledger is read. `keep` is called only after the group's
/// transaction committed, so nothing uncommitted is kept; a commit whose answer was lost leaves the
/// list behind the database, and the next read fetches what it lacks.
final class PostgresSpendCache: Sendable {
    /// A dataset's spends and the hash of its last spend's record.
    struct Ledger: Sendable {
        var spends: [BudgetSpend]
        /// The hash of `spends.last`'s record; nil when it has none (then the list is not kept).
        var lastRecordHash: [UInt8]?
    }

    private let kept = Mutex<[String: Ledger]>([:])
    /// Whole-ledger reads since the cache was made (for tests).
    private let fullReads = Mutex(0)

    /// The dataset's spends, in id order (under its ledger row's lock; without it, as `warm` reads,
    /// the rows committed by then); see the type's contract.
    func read(_ dataset: String, on connection: PostgresConnection, logger: Logger) async throws -> Ledger {
        if let ledger = kept.withLock({ $0[dataset] }), let last = ledger.spends.last, let id = last.id, let seq = last.auditSeq,
            let hash = ledger.lastRecordHash,
            try await anchorHolds(dataset, id: id, seq: seq, hash: hash, count: ledger.spends.count, connection, logger)
        {
            let newer = try await rows(dataset, after: id, connection, logger)
            return Ledger(spends: ledger.spends + newer.spends, lastRecordHash: newer.spends.isEmpty ? hash : newer.lastRecordHash)
        }
        fullReads.withLock { $0 += 1 }
        return try await rows(dataset, after: nil, connection, logger)
    }

    /// Keeps `ledger` as the dataset's committed spends (after the transaction that stored them committed).
    func keep(_ ledger: Ledger, dataset: String) {
        kept.withLock { kept in
            if ledger.lastRecordHash == nil { kept[dataset] = nil } else { kept[dataset] = ledger }
        }
    }

    /// How many reads fetched a whole ledger (for tests).
    var wholeLedgerReads: Int { fullReads.withLock { $0 } }

    /// Whether the database holds the kept list unchanged: the row `id` of `dataset` is linked to
    /// record `seq`, that record's hash is `hash`, and `count` of the dataset's rows have ids up to `id`.
    private func anchorHolds(
        _ dataset: String, id: Int64, seq: UInt64, hash: [UInt8], count: Int, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> Bool {
        var holds = false
        for try await (known, anchor) in try await connection.query(
            """
            SELECT (SELECT count(*) FROM budget_spends WHERE dataset = \(dataset) AND id <= \(id)),
                (SELECT r.hash FROM budget_spends s JOIN audit_records r ON r.seq = s.audit_seq
                 WHERE s.id = \(id) AND s.dataset = \(dataset) AND s.audit_seq = \(Int64(clamping: seq)))
            """, logger: logger
        ).decode((Int, Data?).self) {
            holds = known == count && anchor.map { [UInt8]($0) } == hash
        }
        return holds
    }

    /// The dataset's rows with ids after `after` (all of them for nil), in id order, and the hash of
    /// the last one's record.
    private func rows(_ dataset: String, after: Int64?, _ connection: PostgresConnection, _ logger: Logger) async throws -> Ledger {
        try await PostgresLedgerStore.spends(
            connection.query(
                "\(unescaped: PostgresLedgerStore.spendSelect) WHERE s.dataset = \(dataset) AND s.id > \(after ?? Int64.min) ORDER BY s.id",
                logger: logger))
    }
}
