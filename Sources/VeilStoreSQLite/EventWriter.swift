import Foundation
import GRDB
import GRDBSQLite
import Synchronization
import VeilCore
import VeilStore

/// The write side of `SQLiteEventStore`: stores batches inside the writer's transaction.
///
/// Events go in through one cached prepared statement, `INSERT … ON CONFLICT(event_id) DO NOTHING`,
/// whose change count tells a new event from a duplicate. Each distinct pseudonym of a batch needs a
/// vault row; the writer remembers the pseudonyms it has seen with one (`KnownIdentities`), so a user
/// who appears in every batch of an import is looked up in `vault` once, not once per batch.
///
/// The memory is a cache of the database, never a source of truth. It is kept right by three rules:
/// - it is taken out while `writing` runs and put back only if every batch was written, and emptied
///   when the transaction then fails to commit (`transactionFailed`);
/// - an erasure through this store removes the pseudonym in the erasing transaction (`forget`);
/// - it is emptied when `PRAGMA data_version` shows that another connection (another process, such
///   as `veil erase` beside `veil serve`) committed to the database since it was last read.
///
/// All methods run on the database's single writer connection, one transaction at a time.
final class EventWriter: Sendable {
    /// The pseudonyms known to have a vault row, and the `data_version` they were read at.
    private struct KnownIdentities {
        var pseudonyms: Set<Pseudonym> = []
        var dataVersion: Int64 = -1
    }

    /// The most pseudonyms remembered (about 40 MB); past it the memory starts over.
    static let capacity = 1_000_000

    private let known = Mutex(KnownIdentities())

    /// Runs `body` inside the current write transaction, handing it `store`, which writes one batch
    /// (vault rows, then events) and returns what it did. Call it for each batch, in order.
    func writing<T>(in db: Database, _ body: (_ store: (EventBatchWrite) throws -> BatchCommit) throws -> T) throws -> T {
        let version = try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
        // Taken out while the batches are written (the writer is the only user, one transaction at a
        // time), so adding to it copies nothing; put back only if `body` returns. If it throws, the
        // memory starts empty: it may hold pseudonyms whose rows are about to be rolled back.
        var remembered = known.withLock { known in
            let taken = known.dataVersion == version ? known.pseudonyms : []
            known.pseudonyms = []
            known.dataVersion = version
            return taken
        }
        let outcome = try body { batch in
            var result = BatchCommit()
            result.newIdentities = try storeIdentities(of: batch, remembered: &remembered, in: db)
            try insertEvents(batch.events, into: &result, in: db)
            return result
        }
        if remembered.count > Self.capacity { remembered = [] }
        known.withLock { $0.pseudonyms = remembered }
        return outcome
    }

    /// The transaction that ran `writing` did not commit: what it taught the memory may be false.
    func transactionFailed() {
        known.withLock { $0.pseudonyms.removeAll() }
    }

    /// `pseudonym`'s vault row is being deleted in the current transaction.
    func forget(_ pseudonym: Pseudonym) {
        known.withLock { _ = $0.pseudonyms.remove(pseudonym) }
    }

    /// Creates the vault rows `batch` needs and returns how many; one lookup per distinct pseudonym not
    /// in `remembered`. Every pseudonym that has a row afterwards is added to `remembered`.
    private func storeIdentities(
        of batch: EventBatchWrite, remembered: inout Set<Pseudonym>, in db: Database
    ) throws -> Int {
        let exists = try db.cachedStatement(sql: "SELECT 1 FROM vault WHERE pid = ?").sqliteStatement
        defer { sqlite3_reset(exists) }
        var dataKeyStored = false
        var created = 0
        for event in batch.events where remembered.insert(event.pseudonym).inserted {
            sqlite3_reset(exists)
            Binder.bind(event.pseudonym, 1, exists)
            switch sqlite3_step(exists) {
            case SQLITE_ROW: continue
            case SQLITE_DONE: break
            case let code: throw Self.error(code, in: db)
            }
            if !dataKeyStored {
                try db.execute(
                    sql: "INSERT INTO data_keys (id, sealed, created) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING",
                    arguments: [batch.dataKey.id, Data(batch.dataKey.sealed), batch.dataKey.created])
                dataKeyStored = true
            }
            try insertVault(try CallerError.marking { try batch.escrow(event.pseudonym) }, in: db)
            created += 1
        }
        return created
    }

    /// Inserts `events` in order, counting each as inserted or (known `event_id`) duplicate. Their
    /// text and blob values are bound from one reused buffer, never copied by SQLite (`RowParameters`).
    private func insertEvents(_ events: [StoredEvent], into result: inout BatchCommit, in db: Database) throws {
        let statement = try db.cachedStatement(sql: EventColumn.insertSQL).sqliteStatement
        let connection = db.sqliteConnection
        let row = RowParameters()
        try withExtendedLifetime(row) {
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)  // nothing bound points into `row` once it goes
            }
            for event in events {
                sqlite3_reset(statement)
                Binder.bind(event, to: statement, from: row)
                let code = sqlite3_step(statement)
                guard code == SQLITE_DONE else { throw Self.error(code, in: db) }
                if sqlite3_changes(connection) > 0 { result.inserted += 1 } else { result.duplicates += 1 }
            }
        }
    }

    /// Inserts one vault row through a cached statement, binding the values directly.
    private func insertVault(_ record: VaultRecord, in db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO vault (pid, epoch, data_key_id, nonce, ciphertext) VALUES (?, ?, ?, ?, ?)"
        ).sqliteStatement
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        sqlite3_reset(statement)
        Binder.bind(record, to: statement)
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else { throw Self.error(code, in: db) }
    }

    /// The error of a failed `sqlite3_step`, with SQLite's message (read before any reset clears it).
    private static func error(_ code: Int32, in db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }
}
