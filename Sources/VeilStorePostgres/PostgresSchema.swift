import Foundation
import PostgresNIO
import VeilCore
import VeilStore

/// The PostgreSQL schema: numbered migrations, applied in order by `veil db migrate`, each once.
///
/// `veil_schema` records every applied version. `migrate` runs in one transaction under an advisory
/// lock (PostgreSQL's DDL is transactional), so replicas migrating at once apply each version once,
/// and a failure applies none. Every other open calls `requireCurrent`, which refuses a database
/// behind this binary (run `veil db migrate`) or ahead of it (upgrade Veil). Migrations are history:
/// never edit one that has shipped, append a new version.
///
/// v2 adds `events.properties`: an event's free-form properties as `EventProperties` text (NULL for
/// none), on every day partition.
///
/// The tables (v1):
/// - `events`, partitioned by range of `ts_ms`, one partition per UTC day (`events_d<day>`, `day` =
///   Unix days), created on first use by the writer (`EventPartitions`): retention drops a day's
///   partition. `seq` (a sequence) is the arrival order and the scan's tie-breaker. Each partition is
///   indexed on (pid, ts_ms, seq): a user's events are one seek per day, and the training scan reads
///   each day's index in pseudonym order.
/// - `event_ids`: every stored `event_id`, the idempotency key across all days (a unique index on a
///   partitioned table must hold the partition key, so it cannot live on `events`).
/// - `vault`, `data_keys`: the escrowed identities, as in SQLite.
/// - `tokens`, `settings`, `models`, `model_artifacts` (the artifact bytes, named by the hash of their
///   content, as `models/<id>.json` files are under SQLite).
/// - `budget_ledgers`: one row per dataset, which a reservation locks (`SELECT … FOR UPDATE`) so that
///   spends on a dataset are decided one at a time across replicas; the policy the ledger runs under
///   is `settings.policy_hash`, recorded with `policy.load`. `budget_spends`: one row per spend, with
///   the seq of its `budget.spend` audit record.
/// - v3: `models` may be `revoked`, with `revoked_by`, `revoke_note`, `revoked_ms`; v4: `models.trainer`; v5:
///   `models.quality_override`; v6: `models.spend_id`.
/// - v7: every text column that is a key, is indexed, or that reads compare, group or order (`event_ids`'
///   key, `events`' id, type, item, category and query, the small tables' keys, `models.task`/`state`)
///   is `COLLATE "C"`: compared byte by byte, as SQLite's BINARY does. In the database's default
///   collation every comparison of the `event_ids` B-tree called `strcoll` (a libc locale other than
///   C or POSIX, `C.UTF-8` included), the orders of `ORDER BY … name` depended on the cluster's
///   locale, and an insert into `event_ids` cost about 10 % more backend CPU (measured, `docs/deploy.md`).
/// - v8: the functions `veil_ledger_read` and `veil_reservation_read`: a reservation group's locks
///   and its read in one round trip (`PostgresSpendCache`).
/// - v9: the sequence `vault_erasures`, from which every erasure takes a number before it deletes a
///   vault row: the mark an import's memory of vault rows is valid under (`VaultMemory`).
/// - v10: `budget_ledgers.spends`, each dataset's number of spends, kept by triggers, so that the
///   reservation read's anchor check no longer counts the ledger (`ledgerRead`).
/// - v11: `veil_ledger_read` in PL/pgSQL, so that each session plans its statement once: as a SQL
///   function PostgreSQL 15 parsed and planned its body on every call, under the group's locks.
/// - `key_set`: the fingerprint of the key set the database belongs to (one row).
/// - `audit_records`: the audit chain, one row per record (`seq`, the exact line, its hash);
///   `audit_head`: one row, the chain head (seq, hash), locked to append so that replicas share one
///   chain.
enum PostgresSchema {
    struct Migration: Sendable {
        let version: Int
        let name: String
        /// The migration's statements, run in order.
        let statements: [String]

        /// A migration whose `sql` holds no `;` but at the end of each statement.
        init(version: Int, name: String, sql: String) {
            self.init(
                version: version, name: name,
                statements: sql.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty })
        }

        /// A migration of statements given one by one (a function's body holds `;`).
        init(version: Int, name: String, statements: [String]) {
            self.version = version
            self.name = name
            self.statements = statements
        }
    }

    /// Every migration, in order.
    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "initial",
            sql: """
                CREATE TABLE settings (
                    key text PRIMARY KEY,
                    value text NOT NULL
                );
                CREATE TABLE data_keys (
                    id text PRIMARY KEY,
                    sealed bytea NOT NULL,
                    created timestamptz NOT NULL
                );
                CREATE TABLE vault (
                    pid bytea PRIMARY KEY CHECK (length(pid) = 16),
                    epoch bigint NOT NULL,
                    data_key_id text NOT NULL REFERENCES data_keys (id),
                    nonce bytea NOT NULL,
                    ciphertext bytea NOT NULL
                );
                CREATE SEQUENCE events_seq AS bigint;
                CREATE TABLE events (
                    seq bigint NOT NULL DEFAULT nextval('events_seq'),
                    event_id text NOT NULL,
                    pid bytea NOT NULL CHECK (length(pid) = 16),
                    epoch bigint NOT NULL,
                    type text NOT NULL,
                    ts_ms bigint NOT NULL,
                    session_pid bytea CHECK (length(session_pid) = 16),
                    item_id text,
                    category text,
                    price double precision,
                    quantity bigint,
                    rating bigint,
                    query text
                ) PARTITION BY RANGE (ts_ms);
                ALTER SEQUENCE events_seq OWNED BY events.seq;
                CREATE INDEX events_pid_ts ON events (pid, ts_ms, seq);
                CREATE TABLE event_ids (
                    event_id text PRIMARY KEY
                );
                CREATE TABLE tokens (
                    name text PRIMARY KEY,
                    role text NOT NULL,
                    hash bytea NOT NULL UNIQUE,
                    created timestamptz NOT NULL,
                    revoked timestamptz
                );
                CREATE TABLE models (
                    id text PRIMARY KEY,
                    task text NOT NULL,
                    state text NOT NULL CHECK (state IN ('candidate', 'approved', 'rejected')),
                    is_private boolean NOT NULL,
                    epsilon double precision,
                    created_ms bigint NOT NULL,
                    reviewer text,
                    review_note text,
                    reviewed_ms bigint
                );
                CREATE INDEX models_serving ON models (task, state, reviewed_ms);
                CREATE TABLE model_artifacts (
                    id text PRIMARY KEY,
                    content bytea NOT NULL
                );
                CREATE TABLE audit_records (
                    seq bigint PRIMARY KEY CHECK (seq >= 1),
                    line text NOT NULL,
                    hash bytea NOT NULL CHECK (length(hash) = 32)
                );
                CREATE TABLE audit_head (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    seq bigint NOT NULL CHECK (seq >= 0),
                    hash bytea NOT NULL
                );
                INSERT INTO audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
                CREATE TABLE key_set (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    master_fingerprint bytea NOT NULL,
                    audit_public_key bytea NOT NULL
                );
                CREATE TABLE budget_ledgers (
                    dataset text PRIMARY KEY
                );
                CREATE TABLE budget_spends (
                    id bigserial PRIMARY KEY,
                    dataset text NOT NULL REFERENCES budget_ledgers (dataset),
                    principal text NOT NULL,
                    role text NOT NULL,
                    purpose text NOT NULL,
                    mechanism text NOT NULL,
                    epsilon double precision NOT NULL,
                    delta double precision NOT NULL,
                    cumulative_epsilon double precision NOT NULL,
                    created_ms bigint NOT NULL,
                    audit_seq bigint UNIQUE REFERENCES audit_records (seq)
                );
                CREATE INDEX budget_spends_dataset ON budget_spends (dataset, id);
                """),
        Migration(
            version: 2, name: "event-properties",
            sql: """
                ALTER TABLE events ADD COLUMN properties text;
                """),
        Migration(
            version: 3, name: "model-revocation",
            sql: """
                ALTER TABLE models DROP CONSTRAINT models_state_check;
                ALTER TABLE models ADD CONSTRAINT models_state_check CHECK (state IN ('candidate', 'approved', 'rejected', 'revoked'));
                ALTER TABLE models ADD COLUMN revoked_by text;
                ALTER TABLE models ADD COLUMN revoke_note text;
                ALTER TABLE models ADD COLUMN revoked_ms bigint;
                """),
        Migration(
            version: 4, name: "model-trainer",
            sql: """
                ALTER TABLE models ADD COLUMN trainer text;
                """),
        Migration(
            version: 5, name: "model-quality-override",
            sql: """
                ALTER TABLE models ADD COLUMN quality_override text;
                """),
        Migration(
            version: 6, name: "model-spend",
            sql: """
                ALTER TABLE models ADD COLUMN spend_id bigint;
                """),
        // Keys and compared text in byte order, whatever the cluster's locale (see the type's comment).
        // Only `event_ids`' key index and the small tables' keys are rebuilt; `events`' columns have
        // no index, so their change is the catalog's alone (partitions included).
        Migration(
            version: 7, name: "byte-order-text",
            sql: """
                ALTER TABLE event_ids ALTER COLUMN event_id TYPE text COLLATE "C";
                ALTER TABLE events
                    ALTER COLUMN event_id TYPE text COLLATE "C", ALTER COLUMN type TYPE text COLLATE "C",
                    ALTER COLUMN item_id TYPE text COLLATE "C", ALTER COLUMN category TYPE text COLLATE "C",
                    ALTER COLUMN query TYPE text COLLATE "C";
                ALTER TABLE settings ALTER COLUMN key TYPE text COLLATE "C";
                ALTER TABLE data_keys ALTER COLUMN id TYPE text COLLATE "C";
                ALTER TABLE vault ALTER COLUMN data_key_id TYPE text COLLATE "C";
                ALTER TABLE tokens ALTER COLUMN name TYPE text COLLATE "C";
                ALTER TABLE models
                    ALTER COLUMN id TYPE text COLLATE "C", ALTER COLUMN task TYPE text COLLATE "C",
                    ALTER COLUMN state TYPE text COLLATE "C";
                ALTER TABLE model_artifacts ALTER COLUMN id TYPE text COLLATE "C";
                ALTER TABLE budget_ledgers ALTER COLUMN dataset TYPE text COLLATE "C";
                ALTER TABLE budget_spends ALTER COLUMN dataset TYPE text COLLATE "C";
                """),
        // A reservation group's locks and its read in one round trip (see `PostgresSpendCache`).
        Migration(version: 8, name: "reservation-read", statements: [ledgerRead, reservationRead]),
        // Erasures take a number before deleting vault rows, so a writer's memory of vault rows can
        // tell that one ran (`VaultMemory`).
        Migration(
            version: 9, name: "vault-erasures",
            sql: """
                CREATE SEQUENCE vault_erasures AS bigint;
                """),
        // The anchor check without counting the ledger (see `ledgerRead`).
        Migration(version: 10, name: "ledger-spend-count", statements: spendCount + [countedLedgerRead]),
        // The same read, planned once per session (see `plannedLedgerRead`).
        Migration(version: 11, name: "planned-ledger-read", statements: [plannedLedgerRead]),
    ]

    /// `veil_ledger_read(dataset, policy_key, ids, anchor_id, anchor_count, anchor_seq, anchor_hash)`:
    /// what a reservation group reads once it holds the dataset's ledger row and the chain head (and
    /// what a warm-up reads without them), in one statement — the setting `policy_key` (NULL when
    /// unset), `ids` fresh spend ids from the spends' sequence, whether the kept list's anchor still
    /// holds (the dataset has `anchor_count` rows up to `anchor_id`, and that row's record, seq
    /// `anchor_seq`, has the hash `anchor_hash`), and the dataset's spends after `anchor_id` with
    /// their records' hashes, in id order; one row with NULL spend columns when there are none.
    /// VOLATILE (it takes ids): it reads as of its own start, never the caller's.
    ///
    /// As v8 created it, the rows up to the anchor were counted (O(ledger) under the locks: 1.2–2.3 ms
    /// at 11,000 spends); since v10 they are the ledger row's `spends` less the rows after the anchor.
    static let ledgerRead = ledgerRead(
        creating: "CREATE FUNCTION", rowsUpToAnchor: "(SELECT count(*) FROM budget_spends WHERE dataset = p_dataset AND id <= p_anchor_id)")

    /// `ledgerRead` as v10 replaces it.
    static let countedLedgerRead = ledgerRead(creating: "CREATE OR REPLACE FUNCTION", rowsUpToAnchor: countedRowsUpToAnchor)

    /// `countedLedgerRead` as v11 replaces it: the same statement as the body of a PL/pgSQL function
    /// (`RETURN QUERY`), whose plan the session keeps — a SQL function's body that is not inlined (a
    /// set-returning VOLATILE one never is) is parsed and planned again on every call in PostgreSQL 15,
    /// which was 60 % of the function's time and about a fifth of the ledger connections' CPU, under
    /// the reservation group's locks (`perf`, docs/deploy.md). Same columns, same rows; a VOLATILE
    /// PL/pgSQL statement reads as of its own start, as the SQL function's did.
    static let plannedLedgerRead = ledgerRead(creating: "CREATE OR REPLACE FUNCTION", rowsUpToAnchor: countedRowsUpToAnchor, planned: true)

    private static let countedRowsUpToAnchor = """
        ((SELECT l.spends FROM budget_ledgers l WHERE l.dataset = p_dataset)
                - (SELECT count(*) FROM budget_spends WHERE dataset = p_dataset AND id > p_anchor_id))
        """

    /// The function's text: a SQL function, or (`planned`) a PL/pgSQL one returning the same query.
    private static func ledgerRead(creating: String, rowsUpToAnchor: String, planned: Bool = false) -> String {
        let (language, open, close) = planned ? ("plpgsql", "BEGIN RETURN QUERY\n    ", ";\n    END") : ("sql", "", "")
        return """
        \(creating) veil_ledger_read(
            p_dataset text, p_policy_key text, p_ids bigint,
            p_anchor_id bigint, p_anchor_count bigint, p_anchor_seq bigint, p_anchor_hash bytea)
        RETURNS TABLE (
            policy_value text, spend_ids bigint[], anchor_holds boolean,
            s_id bigint, s_dataset text, s_principal text, s_role text, s_purpose text, s_mechanism text,
            s_epsilon double precision, s_delta double precision, s_cumulative_epsilon double precision,
            s_created_ms bigint, s_audit_seq bigint, r_hash bytea)
        LANGUAGE \(language) VOLATILE AS $$
            \(open)SELECT hdr.policy, hdr.ids, hdr.holds,
                s.id, s.dataset, s.principal, s.role, s.purpose, s.mechanism, s.epsilon, s.delta, s.cumulative_epsilon,
                s.created_ms, s.audit_seq, r.hash
            FROM (SELECT
                (SELECT value FROM settings WHERE key = p_policy_key) AS policy,
                ARRAY(SELECT nextval(pg_get_serial_sequence('budget_spends', 'id')) FROM generate_series(1, p_ids)) AS ids,
                COALESCE(\(rowsUpToAnchor) = p_anchor_count
                    AND (SELECT r.hash FROM budget_spends s JOIN audit_records r ON r.seq = s.audit_seq
                         WHERE s.id = p_anchor_id AND s.dataset = p_dataset AND s.audit_seq = p_anchor_seq) = p_anchor_hash,
                    false) AS holds) AS hdr
            LEFT JOIN (budget_spends s LEFT JOIN audit_records r ON r.seq = s.audit_seq)
                ON s.dataset = p_dataset AND s.id > p_anchor_id
            ORDER BY s.id\(close)
        $$
        """
    }

    /// v10: each dataset's number of spends on its ledger row, kept by statement triggers on every
    /// insert into `budget_spends` (a reservation group's, an adopted spend's: every path) and every
    /// delete (Veil deletes none; a hand-made repair might), counted once for the rows already there.
    static let spendCount = [
        "ALTER TABLE budget_ledgers ADD COLUMN spends bigint NOT NULL DEFAULT 0",
        "UPDATE budget_ledgers l SET spends = (SELECT count(*) FROM budget_spends s WHERE s.dataset = l.dataset)",
        """
        CREATE FUNCTION veil_count_spends() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                UPDATE budget_ledgers l SET spends = l.spends + n.added
                    FROM (SELECT dataset, count(*) AS added FROM new_spends GROUP BY dataset) n WHERE l.dataset = n.dataset;
            ELSE
                UPDATE budget_ledgers l SET spends = l.spends - n.removed
                    FROM (SELECT dataset, count(*) AS removed FROM old_spends GROUP BY dataset) n WHERE l.dataset = n.dataset;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER budget_spends_inserted AFTER INSERT ON budget_spends REFERENCING NEW TABLE AS new_spends
            FOR EACH STATEMENT EXECUTE FUNCTION veil_count_spends()
        """,
        """
        CREATE TRIGGER budget_spends_deleted AFTER DELETE ON budget_spends REFERENCING OLD TABLE AS old_spends
            FOR EACH STATEMENT EXECUTE FUNCTION veil_count_spends()
        """,
    ]

    /// `veil_reservation_read(datasets, dataset, policy_key, ids, anchor…)`: a reservation group's
    /// locks and read in one round trip. Locks the ledger rows of `datasets` in name order, then the
    /// chain head (every writer takes it last), each until the transaction ends; returns the head's
    /// seq and hash followed by `veil_ledger_read` of `dataset`, or no row at all when a dataset has
    /// no ledger row yet (nothing is locked then but the rows that exist; the caller creates them and
    /// calls again). The read is a statement of its own that starts after both locks are held, so
    /// under READ COMMITTED it sees every spend and `policy.load` committed before it — a statement
    /// that waited for a lock would read the other tables as of its own start (4fa3f0e).
    static let reservationRead = """
        CREATE FUNCTION veil_reservation_read(
            p_datasets text[], p_dataset text, p_policy_key text, p_ids bigint,
            p_anchor_id bigint, p_anchor_count bigint, p_anchor_seq bigint, p_anchor_hash bytea)
        RETURNS TABLE (
            head_seq bigint, head_hash bytea, policy_value text, spend_ids bigint[], anchor_holds boolean,
            s_id bigint, s_dataset text, s_principal text, s_role text, s_purpose text, s_mechanism text,
            s_epsilon double precision, s_delta double precision, s_cumulative_epsilon double precision,
            s_created_ms bigint, s_audit_seq bigint, r_hash bytea)
        LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            locked bigint;
            head_row audit_head%ROWTYPE;
        BEGIN
            PERFORM 1 FROM budget_ledgers l WHERE l.dataset = ANY(p_datasets) ORDER BY l.dataset FOR UPDATE;
            GET DIAGNOSTICS locked = ROW_COUNT;
            IF locked <> cardinality(p_datasets) THEN
                RETURN;
            END IF;
            SELECT * INTO head_row FROM audit_head h FOR UPDATE;
            RETURN QUERY SELECT head_row.seq, head_row.hash, r.*
                FROM veil_ledger_read(p_dataset, p_policy_key, p_ids, p_anchor_id, p_anchor_count, p_anchor_seq, p_anchor_hash) r;
        END
        $$
        """

    /// The schema version this binary reads and writes.
    static var latest: Int { migrations.last!.version }

    /// The advisory lock key that serialises migrations across processes ("veil-mig").
    static let lockKey: Int64 = 0x7665_696C_2D6D_6967

    /// Applies every migration the database lacks up to `target` (tests stop at an older version), in
    /// order, in one transaction; returns their versions.
    static func migrate(_ database: VeilPostgresDatabase, through target: Int = latest) async throws -> [Int] {
        let logger = database.logger
        return try await database.withTransaction("migrate the schema") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger).drain()
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS veil_schema (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger
            ).drain()
            let current = try await version(connection, logger: logger) ?? 0
            guard current <= latest else { throw newer(current, server: database.location.server) }
            var applied: [Int] = []
            for migration in migrations where migration.version > current && migration.version <= target {
                // The extended protocol takes one statement at a time.
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).drain()
                }
                try await connection.query(
                    "INSERT INTO veil_schema (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger
                ).drain()
                applied.append(migration.version)
            }
            return applied
        }
    }

    /// Throws unless the database's schema is exactly `latest`.
    static func requireCurrent(in database: VeilPostgresDatabase) async throws {
        let current = try await version(in: database)
        let server = database.location.server
        guard let current, current >= latest else {
            let have = current.map { "is at version \($0)" } ?? "has no Veil schema"
            throw VeilError(
                .unavailable, field: DatabaseURL.field,
                "the database at \(server) \(have) and this Veil needs version \(latest); run `veil db migrate` with the same --database-url")
        }
        guard current == latest else { throw newer(current, server: server) }
    }

    /// The highest applied version; nil when `veil_schema` does not exist.
    static func version(in database: VeilPostgresDatabase) async throws -> Int? {
        let logger = database.logger
        return try await database.withConnection("read the schema version") { connection in
            try await version(connection, logger: logger)
        }
    }

    private static func version(_ connection: PostgresConnection, logger: Logger) async throws -> Int? {
        var exists = false
        for try await value in try await connection.query("SELECT to_regclass('veil_schema') IS NOT NULL", logger: logger).decode(Bool.self) {
            exists = value
        }
        guard exists else { return nil }
        var result = 0
        for try await value in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM veil_schema", logger: logger).decode(Int.self) {
            result = value
        }
        return result
    }

    private static func newer(_ version: Int, server: String) -> VeilError {
        VeilError(
            .unavailable, field: DatabaseURL.field,
            "the database at \(server) is at schema version \(version), newer than this Veil's \(latest); upgrade Veil before using it")
    }
}
