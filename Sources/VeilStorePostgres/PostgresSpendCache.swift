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

        mutating func append(_ spend: BudgetSpend, recordHash: [UInt8]?) {
            spends.append(spend)
            lastRecordHash = recordHash
        }
    }

    private let kept = Mutex<[String: Ledger]>([:])
    /// Whole-ledger reads since the cache was made (for tests).
    private let fullReads = Mutex(0)

    /// The dataset's spends, in id order (under its ledger row's lock; without it, as `warm` reads,
    /// the rows committed by then); see the type's contract.
    func read(_ dataset: String, on connection: PostgresConnection, logger: Logger) async throws -> Ledger {
        try await read(dataset, withPolicy: SettingKey.policyHash, spendIDs: 0, on: connection, logger: logger).ledger
    }

    /// `read` in one statement with what a reservation group reads once it holds the dataset's ledger
    /// row and the chain head: the setting `policyKey` (the recorded policy's hash, nil before any;
    /// read by a statement that starts after the head's lock, see `PostgresLedgerStore`) and `count`
    /// fresh spend ids in ascending order (from the table's sequence, under the ledger row's lock, so a
    /// dataset's ids follow its decisions' order). The same statement checks the kept list's anchor
    /// and reads the rows after it; only when the anchor no longer holds is the whole ledger read by
    /// a second statement.
    func read(_ dataset: String, withPolicy policyKey: String, spendIDs count: Int, on connection: PostgresConnection, logger: Logger)
        async throws -> (ledger: Ledger, policy: String?, ids: [Int64])
    {
        let kept = kept.withLock { $0[dataset] }
        let anchor = kept.flatMap(Anchor.init)
        var policy: String?
        var ids: [Int64] = []
        var holds = false
        var newer = Ledger(spends: [], lastRecordHash: nil)
        for try await row in try await connection.query(
            """
            SELECT hdr.policy, hdr.ids, hdr.holds, \(unescaped: PostgresLedgerStore.spendColumns)
            FROM (SELECT
                (SELECT value FROM settings WHERE key = \(policyKey)) AS policy,
                ARRAY(SELECT nextval(pg_get_serial_sequence('budget_spends', 'id')) FROM generate_series(1, \(count))) AS ids,
                COALESCE((SELECT count(*) FROM budget_spends WHERE dataset = \(dataset) AND id <= \(anchor?.id ?? Int64.min))
                    = \(anchor?.count ?? -1)
                    AND (SELECT r.hash FROM budget_spends s JOIN audit_records r ON r.seq = s.audit_seq
                         WHERE s.id = \(anchor?.id ?? Int64.min) AND s.dataset = \(dataset) AND s.audit_seq = \(anchor?.seq ?? -1))
                    = \(Data(anchor?.hash ?? [])), false) AS holds) AS hdr
            LEFT JOIN (budget_spends s LEFT JOIN audit_records r ON r.seq = s.audit_seq)
                ON s.dataset = \(dataset) AND s.id > \(anchor?.id ?? Int64.min)
            ORDER BY s.id
            """, logger: logger
        ) {
            let cells = row.makeRandomAccess()
            policy = try cells[0].decode(String?.self)
            ids = try cells[1].decode([Int64].self).sorted()
            holds = try cells[2].decode(Bool.self)
            if let (spend, hash) = try PostgresLedgerStore.spend(in: cells, at: 3) { newer.append(spend, recordHash: hash) }
        }
        guard ids.count == count else {
            throw VeilError(.internal, field: "budget_spends", "the server handed out \(ids.count) of \(count) spend ids")
        }
        guard let kept, anchor != nil, holds else {
            // Nothing kept: the statement read the whole ledger. A kept list that no longer holds: read it whole.
            fullReads.withLock { $0 += 1 }
            if anchor == nil { return (newer, policy, ids) }
            return (try await rows(dataset, after: nil, connection, logger), policy, ids)
        }
        return (
            Ledger(spends: kept.spends + newer.spends, lastRecordHash: newer.spends.isEmpty ? kept.lastRecordHash : newer.lastRecordHash),
            policy, ids
        )
    }

    /// What the kept list of a dataset is checked against: its last spend's id, record seq and record
    /// hash, and its length.
    private struct Anchor {
        let id: Int64
        let seq: Int64
        let hash: [UInt8]
        let count: Int

        init?(_ ledger: Ledger) {
            guard let last = ledger.spends.last, let id = last.id, let seq = last.auditSeq, let hash = ledger.lastRecordHash else {
                return nil
            }
            self.id = id
            self.seq = Int64(clamping: seq)
            self.hash = hash
            count = ledger.spends.count
        }
    }

    /// Keeps `ledger` as the dataset's committed spends (after the transaction that stored them committed).
    func keep(_ ledger: Ledger, dataset: String) {
        kept.withLock { kept in
            if ledger.lastRecordHash == nil { kept[dataset] = nil } else { kept[dataset] = ledger }
        }
    }

    /// How many reads fetched a whole ledger (for tests).
    var wholeLedgerReads: Int { fullReads.withLock { $0 } }

    /// The dataset's rows with ids after `after` (all of them for nil), in id order, and the hash of
    /// the last one's record.
    private func rows(_ dataset: String, after: Int64?, _ connection: PostgresConnection, _ logger: Logger) async throws -> Ledger {
        try await PostgresLedgerStore.spends(
            connection.query(
                "\(unescaped: PostgresLedgerStore.spendSelect) WHERE s.dataset = \(dataset) AND s.id > \(after ?? Int64.min) ORDER BY s.id",
                logger: logger))
    }
}
