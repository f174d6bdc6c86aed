import Foundation
import PostgresNIO
import Synchronization
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// A reservation group reads only the spends committed since its process last saw the ledger
/// (`PostgresSpendCache`); every decision must still see exactly the dataset's rows, whichever
/// replica wrote them, and a database that no longer holds the kept list unchanged (a restore) must
/// be read whole.
@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresSpendCacheTests {
    /// Two replicas' ledgers on one database (one signing key: one chain).
    private static func replicas() async throws -> (PostgresLedgerStore, PostgresLedgerStore, [VeilPostgresDatabase]) {
        let database = try await PostgresTestDatabase.migrated()
        let other = try await VeilPostgresDatabase.open(database.location)
        let configuration = StoreConfiguration(sealer: AuditSigner(signingKey: .generate()))
        return (
            PostgresLedgerStore(chain: PostgresAuditChain(database: database, configuration: configuration)),
            PostgresLedgerStore(chain: PostgresAuditChain(database: other, configuration: configuration)), [database, other]
        )
    }

    /// A fresh database migrated through `version` (and checked to be), and a replica's ledger on it.
    private static func ledger(migratedThrough version: Int) async throws -> (VeilPostgresDatabase, PostgresLedgerStore) {
        let database = try await VeilPostgresDatabase.connectForAdministration(try await PostgresTestDatabase.fresh())
        #expect(try await PostgresSchema.migrate(database, through: version) == Array(1...version))
        let configuration = StoreConfiguration(sealer: AuditSigner(signingKey: .generate()))
        return (database, PostgresLedgerStore(chain: PostgresAuditChain(database: database, configuration: configuration)))
    }

    /// Reserves one spend named `purpose` and returns it with the ids and purposes its decision saw.
    private static func reserve(_ ledger: PostgresLedgerStore, _ purpose: String) async throws -> (BudgetSpend, [String]) {
        let seen = Mutex<[String]>([])
        let spend = try await ledger.reserve(dataset: "shop", policyHash: nil) { existing in
            seen.withLock { $0 = existing.map { "\($0.id ?? 0):\($0.purpose)" } }
            let spend = BudgetSpend(
                dataset: "shop", principal: "analyst-1", role: "analyst", purpose: purpose,
                mechanism: #"{"epsilon":0.1,"mechanism":"pure_epsilon"}"#, epsilon: 0.1, delta: 1e-6,
                cumulativeEpsilon: 0.1 * Double(existing.count + 1), createdMillis: 1_795_435_200_000)
            return LedgerEntry(
                spend: spend, audit: AuditDraft(actor: "analyst-1", action: .budgetSpend, details: ["purpose": .string(purpose)]))
        }
        return (spend, seen.withLock { $0 })
    }

    private static func rows(_ ledger: PostgresLedgerStore) async throws -> [String] {
        try await ledger.spends(dataset: "shop").map { "\($0.id ?? 0):\($0.purpose)" }
    }

    /// Two replicas reserving in turn: each decision sees every row before it, and after its first
    /// group each replica reads only the newer rows.
    @Test func interleavedReplicasSeeEveryEarlierSpendReadingOnlyNewRows() async throws {
        let (a, b, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        for index in 0..<6 {
            let ledger = index % 3 == 0 ? b : a
            let before = try await Self.rows(ledger)
            let (_, seen) = try await Self.reserve(ledger, "spend \(index)")
            #expect(seen == before, "spend \(index)")
        }
        #expect(a.spendCache.wholeLedgerReads == 1)
        #expect(b.spendCache.wholeLedgerReads == 1)
    }

    /// A restore to before the kept list's last spend, then another replica spending again with the
    /// same id and record seq: the kept anchor's record hash no longer matches, so the ledger is read
    /// whole and the decision sees the restored rows, not the kept ones.
    @Test func aRestoreBeforeTheKeptSpendIsReadWhole() async throws {
        let (a, b, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        for index in 0..<3 { _ = try await Self.reserve(a, "kept \(index)") }
        let (last, _) = try await Self.reserve(a, "lost")
        let database = databases[0]
        // What a restore of a backup taken before "lost" leaves: its row, its record and the ids after it gone.
        try await database.withConnection("restore") { connection in
            let id = last.id ?? 0
            let seq = Int64(last.auditSeq ?? 0)
            try await connection.query("DELETE FROM budget_spends WHERE id = \(id)", logger: database.logger).drain()
            try await connection.query("DELETE FROM audit_records WHERE seq = \(seq)", logger: database.logger).drain()
            try await connection.query(
                "UPDATE audit_head SET seq = r.seq, hash = r.hash FROM audit_records r WHERE r.seq = \(seq - 1)", logger: database.logger
            ).drain()
            try await connection.query("SELECT setval(pg_get_serial_sequence('budget_spends', 'id'), \(id - 1))", logger: database.logger)
                .drain()
        }
        let (again, _) = try await Self.reserve(b, "after the restore")
        #expect(again.id == last.id && again.auditSeq == last.auditSeq)
        let before = try await Self.rows(a)
        let (_, seen) = try await Self.reserve(a, "next")
        #expect(seen == before)
        #expect(seen.last == "\(last.id ?? 0):after the restore")
        #expect(a.spendCache.wholeLedgerReads == 2)
    }

    /// The ledger row's kept number of `shop`'s spends (`budget_ledgers.spends`, schema v10) and the
    /// number of its rows.
    private static func spendCounts(_ database: VeilPostgresDatabase) async throws -> (kept: Int, rows: Int) {
        try await database.withConnection("count") { connection in
            var result = (kept: -1, rows: -2)
            for try await (kept, rows) in try await connection.query(
                "SELECT spends::int, (SELECT count(*)::int FROM budget_spends WHERE dataset = 'shop') FROM budget_ledgers WHERE dataset = 'shop'",
                logger: database.logger
            ).decode((Int, Int).self) {
                result = (kept, rows)
            }
            return result
        }
    }

    /// A database that held spends before v10: the migration counts them, so a replica's kept list,
    /// read before the migration, still holds its anchor after it and the next group reads only
    /// newer rows.
    @Test func migratingToVersion10CountsTheSpendsAlreadyStored() async throws {
        let (database, a) = try await Self.ledger(migratedThrough: 9)
        defer { database.close() }
        for index in 0..<3 { _ = try await Self.reserve(a, "before v10 \(index)") }
        #expect(try await PostgresSchema.migrate(database) == Array(10...PostgresSchema.latest))
        #expect(try await Self.spendCounts(database) == (3, 3))
        let before = try await Self.rows(a)
        let (_, seen) = try await Self.reserve(a, "after v10")
        #expect(seen == before)
        #expect(a.spendCache.wholeLedgerReads == 1)
        #expect(try await Self.spendCounts(database) == (4, 4))
    }

    /// A decision that would first do costly work on another replica's spends (`LedgerPreparation`):
    /// the group reads under the locks, finds it costly, commits nothing (releasing the locks), hands
    /// the committed spends it read to `prepare` without the locks, then reads again under them — only
    /// what was committed meanwhile, as the kept ledger still holds — and decides once, on every
    /// committed spend. The chain gains exactly the one record, right after the other replica's.
    @Test func costlyWorkIsPreparedOutsideTheLocksAndTheDecisionRunsOnce() async throws {
        let (a, b, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        _ = try await Self.reserve(b, "b's first")
        for purpose in ["costly", "plain"] { _ = try await Self.reserve(a, purpose) }
        let prepared = Mutex<[[String]]>([])
        let preparation = LedgerPreparation(
            isCostly: { snapshot in
                let done = prepared.withLock { $0.last ?? [] }
                return snapshot.contains { $0.purpose == "costly" } && !done.contains { $0.hasSuffix(":costly") }
            },
            prepare: { snapshot in prepared.withLock { $0.append(snapshot.map { "\($0.id ?? 0):\($0.purpose)" }) } })
        let committed = try await Self.rows(a)
        let decisions = Mutex<[[String]]>([])
        _ = try await b.reserve(dataset: "shop", policyHash: nil, preparation: preparation) { existing in
            decisions.withLock { $0.append(existing.map { "\($0.id ?? 0):\($0.purpose)" }) }
            let spend = BudgetSpend(
                dataset: "shop", principal: "analyst-1", role: "analyst", purpose: "after the costly one",
                mechanism: #"{"epsilon":0.1,"mechanism":"pure_epsilon"}"#, epsilon: 0.1, delta: 1e-6, cumulativeEpsilon: 0.4,
                createdMillis: 1_795_435_200_000)
            return LedgerEntry(spend: spend, audit: AuditDraft(actor: "analyst-1", action: .budgetSpend, details: [:]))
        }
        #expect(prepared.withLock { $0 } == [committed])
        #expect(decisions.withLock { $0 } == [committed])
        #expect(b.preparationsOutsideTheLocks == 1)
        #expect(b.spendCache.wholeLedgerReads == 1, "the ledger read before the preparation is kept, and only newer rows read after it")
        let seqs = try await databases[0].withConnection("the chain") { connection in
            var seqs: [Int] = []
            for try await seq in try await connection.query("SELECT seq::int FROM audit_records ORDER BY seq", logger: databases[0].logger)
                .decode(Int.self)
            { seqs.append(seq) }
            return seqs
        }
        #expect(seqs == Array(1...4))
    }

    /// A preparation that finds every read costly does not hold a group back for ever: after
    /// `maxAttempts − 1` preparations the group decides on what it reads.
    @Test func aGroupDecidesAfterItsLastAttemptWhateverItsPreparationSays() async throws {
        let (a, b, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        _ = try await Self.reserve(a, "first")
        let preparation = LedgerPreparation(isCostly: { _ in true }, prepare: { _ in })
        let decisions = Mutex(0)
        let spend = try await b.reserve(dataset: "shop", policyHash: nil, preparation: preparation) { existing in
            decisions.withLock { $0 += 1 }
            let spend = BudgetSpend(
                dataset: "shop", principal: "analyst-1", role: "analyst", purpose: "second", mechanism: #"{"epsilon":0.1,"mechanism":"pure_epsilon"}"#,
                epsilon: 0.1, delta: 1e-6, cumulativeEpsilon: 0.2, createdMillis: 1_795_435_200_000)
            return LedgerEntry(spend: spend, audit: AuditDraft(actor: "analyst-1", action: .budgetSpend, details: [:]))
        }
        #expect(spend.purpose == "second")
        #expect(decisions.withLock { $0 } == 1)
        #expect(b.preparationsOutsideTheLocks == PostgresLedgerStore.maxAttempts - 1)
    }

    /// v11 only moves `veil_ledger_read` from SQL to PL/pgSQL (so each session plans it once): on the
    /// same ledger it returns the same rows as v10's function, for a read from scratch, from an anchor
    /// that holds, from one whose count or hash does not, and for a dataset without spends.
    @Test func version11ReadsWhatVersion10Read() async throws {
        let (database, a) = try await Self.ledger(migratedThrough: 10)
        defer { database.close() }
        var spends: [BudgetSpend] = []
        for index in 0..<4 { spends.append(try await Self.reserve(a, "spend \(index)").0) }
        let anchorID = spends[1].id ?? 0
        let anchorSeq = Int64(spends[1].auditSeq ?? 0)
        let anchorHash = try await database.withConnection("the anchor's hash") { connection in
            var hash = Data()
            for try await value in try await connection.query(
                "SELECT hash FROM audit_records WHERE seq = \(anchorSeq)", logger: database.logger
            ).decode(Data.self) { hash = value }
            return hash
        }
        // (dataset, anchor id, anchor count, anchor seq, anchor hash) of each read.
        let reads: [(String, Int64, Int64, Int64, Data)] = [
            ("shop", Int64.min, -1, -1, Data()), ("shop", anchorID, 2, anchorSeq, anchorHash),
            ("shop", anchorID, 3, anchorSeq, anchorHash), ("shop", anchorID, 2, anchorSeq, Data(repeating: 7, count: 32)),
            ("elsewhere", Int64.min, -1, -1, Data()),
        ]
        func read() async throws -> [[String]] {
            try await database.withConnection("read the ledger") { connection in
                var results: [[String]] = []
                for (dataset, id, count, seq, hash) in reads {
                    var rows: [String] = []
                    for try await row in try await connection.query(
                        """
                        SELECT row_to_json(r)::text FROM veil_ledger_read(\(dataset), 'policy_hash', 0, \(id), \(count), \(seq), \(hash)) r
                        """, logger: database.logger
                    ).decode(String.self) { rows.append(row) }
                    results.append(rows)
                }
                return results
            }
        }
        let version10 = try await read()
        #expect(version10.map(\.count) == [4, 2, 2, 2, 1])
        #expect(version10[1].allSatisfy { $0.contains("\"anchor_holds\":true") })
        #expect(version10[2].allSatisfy { $0.contains("\"anchor_holds\":false") })
        #expect(try await PostgresSchema.migrate(database) == Array(11...PostgresSchema.latest))
        let language = try await database.withConnection("the function's language") { connection in
            var name = ""
            for try await value in try await connection.query(
                "SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'veil_ledger_read'",
                logger: database.logger
            ).decode(String.self) { name = value }
            return name
        }
        #expect(language == "plpgsql")
        #expect(try await read() == version10)
    }

    /// A spend stored with an id of its own below the kept list's last one (what `veil db recover`'s
    /// adoption does): the dataset's spend count (`budget_ledgers.spends`, kept by a trigger) no longer
    /// matches the kept list, so the next group reads the ledger whole and its decision sees that row.
    /// The count also follows a deletion, and equals the rows after many groups.
    @Test func aSpendStoredBelowTheKeptOnesIsReadWhole() async throws {
        let (a, _, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        for index in 0..<3 { _ = try await Self.reserve(a, "kept \(index)") }
        let database = databases[0]
        func counted() async throws -> (kept: Int, rows: Int) { try await Self.spendCounts(database) }
        #expect(try await counted() == (3, 3))
        try await database.withConnection("adopt a spend below the kept ones") { connection in
            try await connection.query(
                """
                INSERT INTO budget_spends (id, dataset, principal, role, purpose, mechanism, epsilon, delta, cumulative_epsilon, created_ms)
                VALUES (0, 'shop', 'analyst-1', 'analyst', 'adopted', '{"epsilon":0.1,"mechanism":"pure_epsilon"}', 0.1, 1e-6, 0.1, 0)
                """, logger: database.logger
            ).drain()
        }
        #expect(try await counted() == (4, 4))
        let before = try await Self.rows(a)
        #expect(before.first == "0:adopted")
        let (_, seen) = try await Self.reserve(a, "after the adoption")
        #expect(seen == before)
        #expect(a.spendCache.wholeLedgerReads == 2)
        try await database.withConnection("a hand-made repair") { connection in
            try await connection.query("DELETE FROM budget_spends WHERE id = 0", logger: database.logger).drain()
        }
        #expect(try await counted() == (4, 4))
    }

    /// A group whose transaction fails after its read — its first record collides with one already
    /// stored at the seq it seals — stores nothing, neither a spend nor a record, and keeps nothing:
    /// the group appends its spends to the kept list it took out of the cache, so keeping that list
    /// would hand the next decision a spend that was never stored. The next group reads the ledger
    /// whole and its decision sees exactly the committed rows.
    @Test func aGroupThatFailsAfterItsReadKeepsNothing() async throws {
        let (a, _, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        for index in 0..<3 { _ = try await Self.reserve(a, "kept \(index)") }
        #expect(a.spendCache.wholeLedgerReads == 1)
        let database = databases[0]
        try await database.withConnection("plant a record at the next seq") { connection in
            try await connection.query(
                "INSERT INTO audit_records (seq, line, hash) SELECT seq + 1, 'planted', hash FROM audit_head", logger: database.logger
            ).drain()
        }
        let before = try await Self.rows(a)
        await #expect(throws: (any Error).self) { _ = try await Self.reserve(a, "fails") }
        #expect(try await Self.rows(a) == before)
        let records = try await database.withConnection("count the records") { connection in
            var count = 0
            for try await value in try await connection.query("SELECT count(*)::int FROM audit_records", logger: database.logger)
                .decode(Int.self)
            {
                count = value
            }
            return count
        }
        #expect(records == before.count + 1, "the spends' records and the planted one, nothing of the failed group")
        try await database.withConnection("remove the planted record") { connection in
            try await connection.query("DELETE FROM audit_records WHERE line = 'planted'", logger: database.logger).drain()
        }
        let (_, seen) = try await Self.reserve(a, "after the failure")
        #expect(seen == before)
        #expect(a.spendCache.wholeLedgerReads == 2)
    }

    /// A replica warmed before it serves (`warm`, as `veil serve` does) reads the ledger whole once,
    /// outside the lock, hands it over in id order, and its first reservation then reads only the
    /// rows committed since — still seeing every one of them, including those the other replica
    /// committed after the warm-up.
    @Test func aWarmedReplicaReadsOnlyNewerRowsInItsFirstReservation() async throws {
        let (a, b, databases) = try await Self.replicas()
        defer { for database in databases { database.close() } }
        for index in 0..<4 { _ = try await Self.reserve(a, "before \(index)") }
        let handed = Mutex<[String]>([])
        try await b.warm(dataset: "shop") { spends in handed.withLock { $0 = spends.map { "\($0.id ?? 0):\($0.purpose)" } } }
        #expect(handed.withLock { $0 } == (try await Self.rows(a)))
        #expect(b.spendCache.wholeLedgerReads == 1)
        _ = try await Self.reserve(a, "after the warm-up")
        let before = try await Self.rows(b)
        let (_, seen) = try await Self.reserve(b, "first of b")
        #expect(seen == before)
        #expect(b.spendCache.wholeLedgerReads == 1)
    }
}
