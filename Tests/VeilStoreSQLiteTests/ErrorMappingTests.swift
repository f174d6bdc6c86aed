import Foundation
import GRDB
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore
@testable import VeilStoreSQLite

/// Failures become `VeilError`s in one place (`SQLiteErrors`, crash-contract.md §5), and a write that
/// fails leaves nothing: not its rows, not its audit record.
@Suite struct ErrorMappingTests {
    @Test(arguments: [
        (ResultCode.SQLITE_BUSY, VeilError.Code.unavailable), (.SQLITE_LOCKED, .unavailable), (.SQLITE_FULL, .unavailable),
        (.SQLITE_IOERR, .unavailable), (.SQLITE_IOERR_FSYNC, .unavailable), (.SQLITE_CANTOPEN, .unavailable),
        (.SQLITE_READONLY, .unavailable), (.SQLITE_CONSTRAINT, .conflict), (.SQLITE_CONSTRAINT_UNIQUE, .conflict),
        (.SQLITE_CORRUPT, .internal), (.SQLITE_MISMATCH, .internal), (.SQLITE_ERROR, .internal),
    ])
    func eachResultCodeMapsToOneErrorWithoutSQLitesMessage(code: ResultCode, expected: VeilError.Code) throws {
        let failure = DatabaseError(resultCode: code, message: "UNIQUE constraint failed: tokens.name 'alice@example.com'")
        let mapped = try #require(SQLiteErrors.map(failure, operation: "tokens.insert", directory: "/srv/veil-data") as? VeilError)
        #expect(mapped.code == expected)
        #expect(!mapped.description.contains("alice") && !(mapped.cause ?? "").contains("alice"))
        #expect(!mapped.description.contains("GRDB") && !mapped.description.contains("DatabaseError"))
        #expect(mapped.cause?.hasPrefix("tokens.insert: SQLite result code \(code.rawValue)") == true)
        if code.primaryResultCode == .SQLITE_FULL {
            #expect(mapped.message.hasPrefix("the disk holding /srv/veil-data is full: nothing was written"))
        }
    }

    @Test func theCallersOwnErrorsAndVeilErrorsPassUnchanged() throws {
        struct Mine: Error, Equatable {}
        #expect(SQLiteErrors.map(CallerError(error: Mine()), operation: "x", directory: "/d") as? Mine == Mine())
        let veil = VeilError(.notFound, field: "model_id", "no model")
        #expect(SQLiteErrors.map(veil, operation: "x", directory: "/d") as? VeilError == veil)
    }

    /// Issue 11, item 2: a full disk under a running server left `budget.spend` records in audit.log
    /// whose ledger transaction never committed (the record was synced before the commit). Now the
    /// record is sealed in the spend's transaction: when the disk fills (SQLite's `max_page_count`
    /// stands in for it here), the failed spend leaves neither its row nor its record, and the error
    /// says what and where.
    @Test func aSpendThatCannotCommitLeavesNeitherItsRowNorItsRecord() async throws {
        let dir = ScratchDirectory()
        let key = SigningKey.generate()
        let database = try VeilDatabase(directory: dir.path)
        let chain = SQLiteAuditChain(configuration: StoreConfiguration(sealer: AuditSigner(signingKey: key)))
        let ledger = SQLiteLedgerStore(database: database, chain: chain)
        let audit = SQLiteAuditChainStore(database: database, chain: chain)
        try await database.pool.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages + 2)")
        }
        var committed = 0
        var failure: VeilError?
        for index in 0..<2_000 {
            do {
                _ = try await ledger.reserve(dataset: "shop") { _ in
                    let spend = BudgetSpend(
                        dataset: "shop", principal: "analyst-\(index)", role: "analyst", purpose: String(repeating: "q", count: 200),
                        mechanism: #"{"epsilon":0.001,"mechanism":"pure_epsilon"}"#, epsilon: 0.001, delta: 1e-6,
                        cumulativeEpsilon: 0.001 * Double(index + 1), createdMillis: 0)
                    return LedgerEntry(
                        spend: spend, audit: AuditDraft(actor: "analyst", action: .budgetSpend, details: ["n": .int(Int64(index))]))
                }
                committed += 1
            } catch let error as VeilError {
                failure = error
                break
            }
        }
        let full = try #require(failure, "the store never filled")
        #expect(full.code == .unavailable)
        #expect(full.message.hasPrefix("the disk holding \(dir.path) is full: nothing was written"))
        #expect(committed > 0)
        #expect(try await ledger.allSpends().count == committed)
        var records: [SealedAuditRecord] = []
        try await audit.forEachRecord { records += $0 }
        #expect(records.count == committed)
        #expect(AuditVerifier.verify(lines: records.map(\.line), publicKey: key.publicKey, checkpoint: nil).isValid)
    }
}
