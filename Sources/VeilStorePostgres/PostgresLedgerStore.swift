import Foundation
import Logging
import PostgresNIO
import Synchronization
import VeilCore
import VeilStore

/// `LedgerStore` on PostgreSQL: `budget_ledgers` (one row per dataset) and `budget_spends` (one row per
/// spend, linked to its `budget.spend` record by `audit_seq`).
///
/// Reservations are group-committed (`GroupCommitQueue`): those that arrive while one transaction runs
/// wait and share the next. A group is one READ COMMITTED transaction on one connection: make sure each
/// dataset's ledger row exists and lock them in name order (`SELECT … FOR UPDATE`) — every other
/// reservation on those datasets, in any process or replica, waits here until this group commits —
/// check the recorded policy (under the chain head's lock), read the spends (all committed, none can
/// be added meanwhile; only those committed since this process last saw the ledger are fetched,
/// `PostgresSpendCache`), then for each reservation in arrival order: run `decide` once on the spends
/// committed before and those decided earlier in the group, insert the spend, seal its record under
/// the chain head's lock (taken after the ledger rows', as every writer does), link the row to it.
/// Then one COMMIT — one WAL flush for the whole group, where one transaction per spend made 50
/// concurrent reservations queue for 50 flushes behind the row lock. A refused reservation (its
/// `decide` threw, or its policy is not the recorded one) writes nothing and gets its own error; the
/// others commit. If the transaction fails, every reservation of the group gets the error and none
/// is stored. No SERIALIZABLE retry: `decide` never runs twice. Before any decision, a group whose
/// read shows costly work a decision would do first (`LedgerPreparation`: another replica's DP-SGD
/// spend to compose) commits nothing instead, releasing the locks, does that work without them, and
/// starts again (`write`).
struct PostgresLedgerStore: LedgerStore {
    let chain: PostgresAuditChain
    private let reservations: GroupCommitQueue<LedgerReservation, BudgetSpend>
    /// The ledgers as this process's groups last saw them committed (read under the lock).
    let spendCache: PostgresSpendCache

    init(chain: PostgresAuditChain) {
        let spendCache = PostgresSpendCache()
        let preparations = Counter()
        self.chain = chain
        self.spendCache = spendCache
        self.preparations = preparations
        // `.high`: a group holds the ledger row's and the head's locks, which every replica's
        // reservations wait for, from its read to its COMMIT; each of its continuations in between
        // must not queue behind this process's other work (`GroupCommitQueue.init`).
        reservations = GroupCommitQueue(maxWeight: LedgerReservation.maxGroup, priority: .high) { group in
            try await PostgresLedgerStore.write(group, chain: chain, cache: spendCache, preparations: preparations)
        }
    }

    private let preparations: Counter

    /// A count shared with the group writer.
    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func increment() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    private var database: VeilPostgresDatabase { chain.database }
    private var logger: Logger { chain.logger }

    /// The columns of `budget_spends`, in table order.
    static let columnNames = [
        "id", "dataset", "principal", "role", "purpose", "mechanism", "epsilon", "delta", "cumulative_epsilon", "created_ms", "audit_seq",
    ]
    static let columns = columnNames.joined(separator: ", ")
    static let columnsAfterID = columnNames.dropFirst().joined(separator: ", ")

    /// The columns of a read of spends from `budget_spends s LEFT JOIN audit_records r ON r.seq =
    /// s.audit_seq`: the row's columns (`columns`), then its record's hash; decode with `spend(in:at:)`.
    static let spendColumns = "\(columnNames.map { "s." + $0 }.joined(separator: ", ")), r.hash"

    /// What a read of spends selects (`spendColumns`); decode with `spends`.
    static let spendSelect = "SELECT \(spendColumns) FROM budget_spends s LEFT JOIN audit_records r ON r.seq = s.audit_seq"

    func spends(dataset: String) async throws -> [BudgetSpend] {
        try await database.withConnection("read the ledger") { connection in
            try await Self.spends(
                connection.query("\(unescaped: Self.spendSelect) WHERE s.dataset = \(dataset) ORDER BY s.id", logger: logger)
            ).spends
        }
    }

    func allSpends() async throws -> [BudgetSpend] {
        try await database.withConnection("read the ledger") { connection in
            try await Self.spends(connection.query("\(unescaped: Self.spendSelect) ORDER BY s.id", logger: logger)).spends
        }
    }

    func reserve(
        dataset: String, policyHash: String?, preparation: LedgerPreparation?,
        _ decide: @escaping @Sendable (LedgerSnapshot) throws -> LedgerEntry
    ) async throws -> BudgetSpend {
        try await reservations.submit(LedgerReservation(dataset: dataset, policyHash: policyHash, preparation: preparation, decide: decide))
    }

    /// How many times a group released the locks to prepare without them (for tests).
    var preparationsOutsideTheLocks: Int { preparations.count }

    /// Reads the dataset's committed spends through the spend cache without the ledger row's lock
    /// (what is kept, then only newer rows; the whole ledger the first time) and keeps them, then hands
    /// them to `warm`. The cache keeps only committed rows, and the next group still checks its anchor
    /// and reads, under the lock, every row committed since.
    func warm(dataset: String, _ warm: @Sendable (LedgerSnapshot) throws -> Void) async throws {
        let ledger = try await database.withConnection("read the ledger") { connection in
            try await spendCache.read(dataset, on: connection, logger: logger)
        }
        spendCache.keep(ledger, dataset: dataset)
        try warm(ledger.snapshot)
    }

    /// A group's attempts at most: after the first `maxAttempts − 1` have released the locks to
    /// prepare (`LedgerPreparation`), the last decides whatever it reads.
    static let maxAttempts = 3

    /// One group of reservations; see the type's contract. Each attempt is one transaction
    /// (`attempt`). When an attempt finds, under the locks, that a dataset's decisions would first do
    /// costly work that needs no lock (`LedgerPreparation.isCostly`: another replica's DP-SGD spend to
    /// compose), it commits nothing but the spend ids it drew (the sequence's gaps are harmless),
    /// which releases the locks, and keeps the ledgers it read under them (committed spends only); the
    /// group then prepares them (`prepare`) while other replicas' groups go on, and tries again: the
    /// next read brings only what was committed meanwhile. No decision runs before the last
    /// attempt's read.
    private static func write(
        _ group: [LedgerReservation], chain: PostgresAuditChain, cache: PostgresSpendCache, preparations: Counter
    ) async throws -> [Result<BudgetSpend, any Error>] {
        for number in 1...maxAttempts {
            switch try await attempt(group, chain: chain, cache: cache, mayPrepare: number < maxAttempts) {
            case let .decided(results):
                return results
            case let .prepare(work):
                preparations.increment()
                for (preparation, ledger) in work { try preparation.prepare(ledger.snapshot) }
            }
        }
        throw VeilError(.internal, field: "budget_ledgers", "a reservation group made no decision in \(maxAttempts) attempts")
    }

    /// What one attempt of a group came to.
    private enum Attempt {
        /// Each reservation's spend or error, committed.
        case decided([Result<BudgetSpend, any Error>])
        /// Nothing decided, the locks released: the preparations to run on the ledgers read under them.
        case prepare([(LedgerPreparation, PostgresSpendCache.Ledger)])
    }

    /// One attempt of a group in one transaction. For one dataset four round trips (there were eight,
    /// then five), two of them under the locks after the locking one returns: BEGIN; lock the ledger
    /// row and then the head, and read the recorded policy, the group's spend ids and the spends
    /// committed since this process last saw the ledger (`PostgresSpendCache`, its anchor checked as
    /// it reads), in one statement (the server function `veil_reservation_read`, whose read is a
    /// statement of its own after the locks); decide and seal in memory in arrival order; store the
    /// records, move the head and insert the spends, in one statement; COMMIT. The cache keeps the
    /// ledger only after the COMMIT. With `mayPrepare`, a dataset whose first reservation with a
    /// preparation finds its read costly ends the attempt before any decision (`write`).
    private static func attempt(
        _ group: [LedgerReservation], chain: PostgresAuditChain, cache: PostgresSpendCache, mayPrepare: Bool
    ) async throws -> Attempt {
        let logger = chain.logger
        let (outcome, ledgers) = try await chain.audited("reserve privacy budget") { connection -> (Attempt, [String: PostgresSpendCache.Ledger]) in
            let datasets = Set(group.map(\.dataset)).sorted()
            // The ledger rows' locks, then the head's, as every writer takes them. The recorded policy
            // (and the spends) are read by a statement that starts after both locks are held: under
            // READ COMMITTED a statement that waited for a row lock gets the locked rows' newest
            // versions but reads every other table as of its start, so a `policy.load` that committed
            // while it waited (it writes the setting, then takes the head) would be missed and a spend
            // under the old policy's caps sealed after the new policy's record. A policy.load, sealed
            // under the head too, committed before that read or is sealed after this group: the
            // chain's order is the truth.
            var locked = try await cache.lockAndRead(
                datasets, withPolicy: SettingKey.policyHash, spendIDs: group.count, on: connection, logger: logger)
            if locked == nil {
                // A dataset without a ledger row yet (its first reservation, or a database that lost it).
                for dataset in datasets { try await ensureLedger(dataset, on: connection, logger: logger) }
                locked = try await cache.lockAndRead(
                    datasets, withPolicy: SettingKey.policyHash, spendIDs: group.count, on: connection, logger: logger)
            }
            // Taken out of `locked` and moved into `ledgers`, the one reference to the ledger's spends, so
            // that each decision's spend is appended in place: with a second one, the group's first
            // append copied the whole ledger (O(ledger) per group, under the locks).
            guard case let (lockedHead, ledger, recorded, lockedIDs)? = locked.take() else {
                throw VeilError(.internal, field: "budget_ledgers", "the ledger rows of \(datasets.count) dataset(s) could not be locked")
            }
            var head = lockedHead
            var ids = lockedIDs
            var ledgers: [String: PostgresSpendCache.Ledger] = [datasets[0]: consume ledger]
            for dataset in datasets.dropFirst() { ledgers[dataset] = try await cache.read(dataset, on: connection, logger: logger) }
            if mayPrepare {
                let work = datasets.compactMap { dataset -> (LedgerPreparation, PostgresSpendCache.Ledger)? in
                    guard let preparation = group.first(where: { $0.dataset == dataset && $0.preparation != nil })?.preparation,
                        let ledger = ledgers[dataset], preparation.isCostly(ledger.snapshot)
                    else { return nil }
                    return (preparation, ledger)
                }
                // Nothing written: the COMMIT only releases the locks (and keeps the drawn ids drawn);
                // every ledger read holds committed spends only, so the cache keeps them all after it.
                if !work.isEmpty { return (.prepare(work), ledgers) }
            }
            var results: [Result<BudgetSpend, any Error>] = []
            var stored: [BudgetSpend] = []
            var records: [SealedAuditRecord] = []
            for reservation in group {
                if let refusal = LedgerPolicy.check(running: reservation.policyHash, recorded: recorded) {
                    results.append(.failure(refusal))
                    continue
                }
                let entry: LedgerEntry
                do {
                    entry = try reservation.decide(ledgers[reservation.dataset]?.snapshot ?? LedgerSnapshot([]))
                } catch {
                    results.append(.failure(error))
                    continue
                }
                let id = ids.removeFirst()
                let record = try chain.seal(entry.audit.linking(spendID: id), after: head)
                head = record.head
                var spend = entry.spend
                spend.id = id
                spend.auditSeq = record.seq
                records.append(record)
                stored.append(spend)
                ledgers[reservation.dataset]?.append(spend, recordHash: record.hash)
                results.append(.success(spend))
            }
            try await store(records, stored, on: connection, logger: logger)
            return (.decided(results), ledgers)
        }
        for (dataset, ledger) in ledgers { cache.keep(ledger, dataset: dataset) }
        return outcome
    }

    /// Stores a group's sealed records (consecutive, continuing the head, which the caller holds),
    /// makes the last one the head and inserts the group's spends (carrying their ids and record
    /// seqs), in one statement (`GroupStore`).
    private static func store(
        _ records: [SealedAuditRecord], _ spends: [BudgetSpend], on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !records.isEmpty else { return }
        _ = try await connection.execute(GroupStore(records: records, spends: spends), logger: logger)
    }

    /// A group's one write, as a prepared statement: each connection parses and plans it once, where
    /// as an unnamed statement it was parsed and planned for every group, under the locks.
    /// Contract: `records` is not empty.
    private struct GroupStore: PostgresPreparedStatement {
        typealias Row = ()
        static let sql = """
            WITH records AS (
                INSERT INTO audit_records (seq, line, hash) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])
            ), head AS (
                UPDATE audit_head SET seq = $4, hash = $5
            )
            INSERT INTO budget_spends (\(columns))
            SELECT * FROM unnest($6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::float8[],
                $13::float8[], $14::float8[], $15::bigint[], $16::bigint[])
            """

        let records: [SealedAuditRecord]
        let spends: [BudgetSpend]

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 16)
            bindings.append(records.map { Int64($0.seq) })
            bindings.append(records.map(\.line))
            bindings.append(records.map { ByteBuffer(bytes: $0.hash) })
            bindings.append(Int64(records[records.count - 1].seq))
            bindings.append(ByteBuffer(bytes: records[records.count - 1].hash))
            bindings.append(spends.map { $0.id ?? 0 })
            bindings.append(spends.map(\.dataset))
            bindings.append(spends.map(\.principal))
            bindings.append(spends.map(\.role))
            bindings.append(spends.map(\.purpose))
            bindings.append(spends.map(\.mechanism))
            bindings.append(spends.map(\.epsilon))
            bindings.append(spends.map(\.delta))
            bindings.append(spends.map(\.cumulativeEpsilon))
            bindings.append(spends.map(\.createdMillis))
            bindings.append(spends.map { $0.auditSeq.map { Int64($0) } ?? 0 })
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }

    /// Links or stores the row of an adopted `budget.spend` record (`AuditChainStore.adopt`), in the
    /// caller's transaction.
    static func adopt(_ adopted: AdoptedSpend, on connection: PostgresConnection, logger: Logger) async throws {
        var spend = adopted.spend
        spend.auditSeq = adopted.auditSeq
        if let id = spend.id {
            var found = false
            var linked: Int64?
            for try await value in try await connection.query("SELECT audit_seq FROM budget_spends WHERE id = \(id) FOR UPDATE", logger: logger)
                .decode(Int64?.self)
            {
                found = true
                linked = value
            }
            if found {
                if try adopted.needsLink(row: id, linkedTo: linked.map { UInt64($0) }) {
                    try await connection.query(
                        "UPDATE budget_spends SET audit_seq = \(Int64(adopted.auditSeq)) WHERE id = \(id)", logger: logger
                    ).drain()
                }
                return
            }
        }
        try await ensureLedger(spend.dataset, on: connection, logger: logger)
        _ = try await insert(spend, on: connection, logger: logger)
        // A row stored with its own id: the id sequence moves past it, so later spends never collide.
        try await connection.query(
            "SELECT setval(pg_get_serial_sequence('budget_spends', 'id'), (SELECT max(id) FROM budget_spends))", logger: logger
        ).drain()
    }

    private static func ensureLedger(_ dataset: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("INSERT INTO budget_ledgers (dataset) VALUES (\(dataset)) ON CONFLICT DO NOTHING", logger: logger)
            .drain()
    }

    /// Inserts a row (with `spend.id` when set) and returns its id.
    private static func insert(_ spend: BudgetSpend, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let auditSeq = spend.auditSeq.map { Int64($0) }
        let rows: PostgresRowSequence
        if let id = spend.id {
            rows = try await connection.query(
                """
                INSERT INTO budget_spends (\(unescaped: columns))
                VALUES (\(id), \(spend.dataset), \(spend.principal), \(spend.role), \(spend.purpose), \(spend.mechanism), \(spend.epsilon),
                    \(spend.delta), \(spend.cumulativeEpsilon), \(spend.createdMillis), \(auditSeq))
                RETURNING id
                """, logger: logger)
        } else {
            rows = try await connection.query(
                """
                INSERT INTO budget_spends (\(unescaped: columnsAfterID))
                VALUES (\(spend.dataset), \(spend.principal), \(spend.role), \(spend.purpose), \(spend.mechanism), \(spend.epsilon),
                    \(spend.delta), \(spend.cumulativeEpsilon), \(spend.createdMillis), \(auditSeq))
                RETURNING id
                """, logger: logger)
        }
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        return id
    }

    /// The spends of rows read with `spendSelect`, and the hash of the last one's record.
    static func spends(_ rows: PostgresRowSequence) async throws -> PostgresSpendCache.Ledger {
        var ledger = PostgresSpendCache.Ledger()
        for try await row in rows {
            if let (spend, hash) = try spend(in: row.makeRandomAccess(), at: 0) { ledger.append(spend, recordHash: hash) }
        }
        return ledger
    }

    /// The spend whose `spendColumns` start at cell `first` of `row`, and its record's hash; nil when
    /// the spend's id is NULL (an outer join that found no spend).
    static func spend(in row: PostgresRandomAccessRow, at first: Int) throws -> (BudgetSpend, [UInt8]?)? {
        guard let id = try row[first].decode(Int64?.self) else { return nil }
        let spend = BudgetSpend(
            id: id, dataset: try row[first + 1].decode(String.self), principal: try row[first + 2].decode(String.self),
            role: try row[first + 3].decode(String.self), purpose: try row[first + 4].decode(String.self),
            mechanism: try row[first + 5].decode(String.self), epsilon: try row[first + 6].decode(Double.self),
            delta: try row[first + 7].decode(Double.self), cumulativeEpsilon: try row[first + 8].decode(Double.self),
            createdMillis: try row[first + 9].decode(Int64.self), auditSeq: try row[first + 10].decode(Int64?.self).map { UInt64($0) })
        return (spend, try row[first + 11].decode(Data?.self).map { [UInt8]($0) })
    }
}
