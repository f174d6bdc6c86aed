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
/// spend without a record) the whole ledger is read. A read takes the kept list out of the cache
/// (the newer rows are appended to it in place); `keep` puts the group's ledger back only after the
/// group's transaction committed, so nothing uncommitted is kept, and a group that fails leaves
/// nothing kept (the next read is whole). A commit whose answer was lost leaves the list behind the
/// database, and the next read fetches what it lacks.
final class PostgresSpendCache: Sendable {
    /// A dataset's spends and the hash of its last spend's record.
    ///
    /// It only grows (appends), so it keeps its lineage (`LedgerSnapshot`) for as long as it lives:
    /// one read whole makes a new one (a fresh lineage); a kept one is extended by the rows committed
    /// after its anchor and by a group's decisions, and is dropped, not kept again, when that group's
    /// transaction fails.
    struct Ledger: Sendable {
        private(set) var spends: [BudgetSpend]
        /// The hash of `spends.last`'s record; nil when it has none (then the list is not kept).
        private(set) var lastRecordHash: [UInt8]?
        let lineage: LedgerLineage

        /// An empty list with a fresh lineage.
        init() {
            spends = []
            lineage = .fresh()
        }

        mutating func append(_ spend: BudgetSpend, recordHash: [UInt8]?) {
            spends.append(spend)
            lastRecordHash = recordHash
        }

        /// Appends `newer`'s spends (read after this list's last one).
        mutating func append(contentsOf newer: Ledger) {
            guard !newer.spends.isEmpty else { return }
            spends.append(contentsOf: newer.spends)
            lastRecordHash = newer.lastRecordHash
        }

        /// What a decision is handed: the spends and this list's lineage.
        var snapshot: LedgerSnapshot { LedgerSnapshot(spends, lineage: lineage) }
    }

    private let kept = Mutex<[String: Ledger]>([:])
    /// Whole-ledger reads since the cache was made (for tests).
    private let fullReads = Mutex(0)

    /// The dataset's spends, in id order (under its ledger row's lock; without it, as `warm` reads,
    /// the rows committed by then); see the type's contract.
    func read(_ dataset: String, on connection: PostgresConnection, logger: Logger) async throws -> Ledger {
        let anchor = Anchor(kept: kept.withLock { $0[dataset] })
        let rows = try await connection.query(
            """
            SELECT * FROM veil_ledger_read(\(dataset), \(SettingKey.policyHash), \(0), \(anchor.id), \(anchor.count), \(anchor.seq),
                \(Data(anchor.hash)))
            """, logger: logger)
        return try await ledger(dataset, anchor, try await Read(rows, firstCell: 0), connection, logger).ledger
    }

    /// A reservation group's locks and reads in one statement (`veil_reservation_read`): locks the
    /// ledger rows of `datasets` (in name order) and then the chain head until the transaction ends,
    /// then reads — by a statement that starts after both locks are held (see `PostgresLedgerStore`)
    /// — the head, the setting `policyKey` (the recorded policy's hash, nil before any), `count` fresh
    /// spend ids in ascending order (taken under the ledger row's lock, so a dataset's ids follow its
    /// decisions' order) and the spends of `datasets[0]` as `read` does. Nil, with only the existing
    /// rows locked, when a dataset has no ledger row yet: create them, then call again. Only when the
    /// kept list's anchor no longer holds is the whole ledger read, by a second statement.
    func lockAndRead(
        _ datasets: [String], withPolicy policyKey: String, spendIDs count: Int, on connection: PostgresConnection, logger: Logger
    ) async throws -> (head: AuditHead, ledger: Ledger, policy: String?, ids: [Int64])? {
        let dataset = datasets[0]
        let anchor = Anchor(kept: kept.withLock { $0[dataset] })
        let rows = try await connection.execute(
            ReservationRead(datasets: datasets, policyKey: policyKey, count: count, anchor: anchor), logger: logger)
        var head: (seq: Int64?, hash: Data?)?
        let read = try await Read(rows, firstCell: 2) { cells in
            head = (try cells[0].decode(Int64?.self), try cells[1].decode(Data?.self))
        }
        guard let head else { return nil }
        guard let seq = head.seq, let hash = head.hash else {
            throw VeilError(.integrity, field: "audit_head", "the audit chain's head row is missing; the database is damaged")
        }
        guard read.ids.count == count else {
            throw VeilError(.internal, field: "budget_spends", "the server handed out \(read.ids.count) of \(count) spend ids")
        }
        let (ledger, policy) = try await self.ledger(dataset, anchor, read, connection, logger)
        return (AuditHead(seq: UInt64(seq), hash: [UInt8](hash)), ledger, policy, read.ids)
    }

    /// `lockAndRead`'s statement, prepared: each connection parses and plans it once (as an unnamed
    /// statement it was parsed and planned for every group). Rows as they come.
    private struct ReservationRead: PostgresPreparedStatement {
        typealias Row = PostgresRow
        static let sql = "SELECT * FROM veil_reservation_read($1::text[], $2, $3, $4, $5, $6, $7, $8)"

        let datasets: [String]
        let policyKey: String
        let count: Int
        let anchor: Anchor

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 8)
            bindings.append(datasets)
            bindings.append(datasets[0])
            bindings.append(policyKey)
            bindings.append(Int64(count))
            bindings.append(anchor.id)
            bindings.append(Int64(anchor.count))
            bindings.append(anchor.seq)
            bindings.append(ByteBuffer(bytes: anchor.hash))
            return bindings
        }

        func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
    }

    /// What one call of `veil_ledger_read` returned, from cell `firstCell` of each row on.
    private struct Read {
        var policy: String?
        var ids: [Int64] = []
        var holds = false
        var newer = Ledger()

        /// `before` sees the first row's cells (the columns before `firstCell`, the same on every row).
        init(
            _ rows: some AsyncSequence<PostgresRow, any Error>, firstCell: Int, before: (PostgresRandomAccessRow) throws -> Void = { _ in }
        ) async throws {
            var first = true
            for try await row in rows {
                let cells = row.makeRandomAccess()
                if first {
                    // The same on every row: decoded once (the ids on every row cost O(rows × ids) before).
                    try before(cells)
                    policy = try cells[firstCell].decode(String?.self)
                    ids = try cells[firstCell + 1].decode([Int64].self).sorted()
                    holds = try cells[firstCell + 2].decode(Bool.self)
                    first = false
                }
                if let (spend, hash) = try PostgresLedgerStore.spend(in: cells, at: firstCell + 3) { newer.append(spend, recordHash: hash) }
            }
        }
    }

    /// The dataset's ledger from a read against `anchor`: the kept list and the newer rows when the
    /// anchor holds, the rows read when nothing was kept (they are the whole ledger), else the whole
    /// ledger read again; and the policy read.
    private func ledger(_ dataset: String, _ anchor: Anchor, _ read: Read, _ connection: PostgresConnection, _ logger: Logger)
        async throws -> (ledger: Ledger, policy: String?)
    {
        // The kept list is taken out of the cache, so that the newer rows are appended to it in place
        // (adding them to a copy cost O(ledger) per group); the group keeps it again after its COMMIT.
        guard anchor.isSet, read.holds, var ledger = kept.withLock({ $0.removeValue(forKey: dataset) }), Anchor(kept: ledger) == anchor
        else {
            // Nothing kept: the statement read the whole ledger. A kept list that no longer holds: read it whole.
            fullReads.withLock { $0 += 1 }
            if !anchor.isSet { return (read.newer, read.policy) }
            return (try await rows(dataset, after: nil, connection, logger), read.policy)
        }
        ledger.append(contentsOf: read.newer)
        return (ledger, read.policy)
    }

    /// What the kept list of a dataset is checked against: its last spend's id, record seq and record
    /// hash, and its length; none of them when nothing usable is kept (a kept list whose last spend
    /// has no record is not used).
    private struct Anchor: Equatable {
        /// Whether there is a kept list to use.
        let isSet: Bool
        let id: Int64
        let seq: Int64
        let hash: [UInt8]
        let count: Int

        init(kept ledger: Ledger?) {
            guard let ledger, let last = ledger.spends.last, let id = last.id, let seq = last.auditSeq, let hash = ledger.lastRecordHash
            else {
                (isSet, id, seq, hash, count) = (false, Int64.min, -1, [], -1)
                return
            }
            isSet = true
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
