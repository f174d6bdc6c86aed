import Foundation
import GRDB
import VeilCore

/// The event store's tables, created by migration `v1-events`:
///
/// - `events`: one row per stored event. `event_id` is unique (the idempotency key); `pid` and
///   `session_pid` are 16-byte pseudonym blobs (byte order of the digest, so blob order is
///   `Pseudonym` order); `ts_ms` is Unix milliseconds. Indexed on `(pid, ts_ms)`, and (migration
///   `v2-events-day`) on the UTC day `ts_ms / 86400000`, so the latest event time and "any event in
///   this time range" are index lookups. The day, not `ts_ms` itself: an index on `ts_ms` takes each
///   event of a batch at a random place and dirtied most of its pages on every commit (ingest fell to
///   half speed at 5 M events); on the day, a batch appends at the end of a few days' runs.
/// - `vault`: pid → escrowed raw ID (nonce + ciphertext under a data key). No plaintext.
/// - `data_keys`: the sealed data keys vault rows refer to.
enum EventSchema {
    /// The indexed UTC day of an event; queries must spell it exactly so for SQLite to use the index.
    static let dayExpression = "ts_ms / 86400000"

    static let registrar: @Sendable (inout DatabaseMigrator) -> Void = { migrator in
        migrator.registerMigration("v1-events") { db in
            try db.execute(
                sql: """
                    CREATE TABLE data_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        sealed BLOB NOT NULL,
                        created DATETIME NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE vault (
                        pid BLOB PRIMARY KEY NOT NULL CHECK (length(pid) = 16),
                        epoch INTEGER NOT NULL,
                        data_key_id TEXT NOT NULL REFERENCES data_keys(id),
                        nonce BLOB NOT NULL,
                        ciphertext BLOB NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE events (
                        event_id TEXT NOT NULL UNIQUE,
                        pid BLOB NOT NULL CHECK (length(pid) = 16),
                        epoch INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        ts_ms INTEGER NOT NULL,
                        session_pid BLOB,
                        item_id TEXT,
                        category TEXT,
                        price REAL,
                        quantity INTEGER,
                        rating INTEGER,
                        query TEXT
                    );
                    CREATE INDEX events_pid_ts ON events(pid, ts_ms);
                    """)
        }
        migrator.registerMigration("v2-events-day") { db in
            try db.execute(sql: "CREATE INDEX events_day ON events(\(dayExpression))")
        }
    }
}

/// A row of `vault`, as GRDB reads it (writes bind columns directly, `SQLiteEventStore.commit`).
struct VaultRow: Decodable, FetchableRecord, TableRecord {
    static let databaseTableName = "vault"
    var pid: Data
    var epoch: Int64
    var dataKeyID: String
    var nonce: Data
    var ciphertext: Data

    enum CodingKeys: String, CodingKey {
        case pid, epoch, nonce, ciphertext
        case dataKeyID = "data_key_id"
    }

    var record: VaultRecord? {
        guard let pseudonym = Pseudonym(bytes: pid), let epoch = UInt32(exactly: epoch) else { return nil }
        return VaultRecord(
            pseudonym: pseudonym, epoch: epoch, dataKeyID: dataKeyID, nonce: [UInt8](nonce),
            ciphertext: [UInt8](ciphertext))
    }
}

/// A row of `data_keys`, as GRDB reads it.
struct DataKeyRow: Decodable, FetchableRecord, TableRecord {
    static let databaseTableName = "data_keys"
    var id: String
    var sealed: Data
    var created: Date

    var record: DataKeyRecord { DataKeyRecord(id: id, sealed: [UInt8](sealed), created: created) }
}

/// The columns of `events` in the order `EventRowReader` reads them (inserts bind the same columns
/// through a prepared statement, `SQLiteEventStore.commit`).
enum EventRow {
    static let columns = "rowid, event_id, pid, epoch, type, ts_ms, session_pid, item_id, category, price, quantity, rating, query"
}
