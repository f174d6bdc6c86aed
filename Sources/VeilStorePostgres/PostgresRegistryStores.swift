import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// `ModelStore` on PostgreSQL (`models`). A review locks the model's row, so two reviewers on two
/// replicas cannot both move the same candidate (nor both revoke the same approval).
struct PostgresModelStore: ModelStore {
    let chain: PostgresAuditChain

    private var database: VeilPostgresDatabase { chain.database }
    private var logger: Logger { chain.logger }
    private static let columns =
        "id, task, state, is_private, epsilon, created_ms, trainer, spend_id, reviewer, review_note, quality_override, reviewed_ms, revoked_by, revoke_note, revoked_ms"

    func register(_ record: ModelRecord, audit: AuditDraft) async throws -> ModelRecord {
        try await chain.audited("register a model") { connection in
            try await connection.query(
                """
                INSERT INTO models (\(unescaped: Self.columns))
                VALUES (\(record.id), \(record.task), \(record.state.rawValue), \(record.isPrivate), \(record.epsilon), \(record.createdMillis),
                    \(record.trainer), \(record.spendId), \(record.reviewer), \(record.reviewNote), \(record.qualityOverride), \(record.reviewedMillis), \(record.revokedBy), \(record.revokeNote),
                    \(record.revokedMillis))
                ON CONFLICT (id) DO NOTHING
                """, logger: logger
            ).drain()
            try await chain.append(audit, on: connection)
            return try await Self.records(connection.query("SELECT \(unescaped: Self.columns) FROM models WHERE id = \(record.id)", logger: logger))
                .first ?? record
        }
    }

    func all() async throws -> [ModelRecord] {
        try await database.withConnection("list models") { connection in
            try await Self.records(
                connection.query("SELECT \(unescaped: Self.columns) FROM models ORDER BY created_ms DESC, id DESC", logger: logger))
        }
    }

    func find(id: String) async throws -> ModelRecord? {
        try await database.withConnection("read a model") { connection in
            try await Self.records(connection.query("SELECT \(unescaped: Self.columns) FROM models WHERE id = \(id)", logger: logger)).first
        }
    }

    func review(
        id: String, to state: ModelState, reviewer: String, note: String, qualityOverride: String?, atMillis: Int64,
        audit: @escaping @Sendable (ModelRecord) -> AuditDraft
    ) async throws -> ModelRecord {
        try await chain.audited("review a model") { connection in
            let stored = try await locked(id, on: connection)
            let record = try ModelRecord.reviewing(
                stored, id: id, to: state, reviewer: reviewer, note: note, qualityOverride: qualityOverride, atMillis: atMillis)
            try await connection.query(
                """
                UPDATE models SET state = \(state.rawValue), reviewer = \(reviewer), review_note = \(note),
                    quality_override = \(qualityOverride), reviewed_ms = \(atMillis)
                WHERE id = \(id)
                """, logger: logger
            ).drain()
            try await chain.append(audit(record), on: connection)
            return record
        }
    }

    func revoke(
        id: String, by reviewer: String, note: String, atMillis: Int64,
        audit: @escaping @Sendable (ModelRecord) -> AuditDraft
    ) async throws -> ModelRecord {
        try await chain.audited("revoke a model") { connection in
            let stored = try await locked(id, on: connection)
            let record = try ModelRecord.revoking(stored, id: id, by: reviewer, note: note, atMillis: atMillis)
            try await connection.query(
                """
                UPDATE models SET state = \(record.state.rawValue), revoked_by = \(reviewer), revoke_note = \(note), revoked_ms = \(atMillis)
                WHERE id = \(id)
                """, logger: logger
            ).drain()
            try await chain.append(audit(record), on: connection)
            return record
        }
    }

    func serving(task: String) async throws -> ModelRecord? {
        try await database.withConnection("find the serving model") { connection in
            try await Self.records(
                connection.query(
                    """
                    SELECT \(unescaped: Self.columns) FROM models WHERE task = \(task) AND state = \(ModelState.approved.rawValue)
                    ORDER BY reviewed_ms DESC LIMIT 1
                    """, logger: logger)
            ).first
        }
    }

    /// The model `id`, its row locked until the transaction ends (so two replicas decide one at a time).
    private func locked(_ id: String, on connection: PostgresConnection) async throws -> ModelRecord? {
        try await Self.records(
            connection.query("SELECT \(unescaped: Self.columns) FROM models WHERE id = \(id) FOR UPDATE", logger: logger)
        ).first
    }

    private static func records(_ rows: PostgresRowSequence) async throws -> [ModelRecord] {
        var records: [ModelRecord] = []
        for try await (id, task, state, isPrivate, epsilon, created, trainer, spend, reviewer, note, override, reviewed, revokedBy, revokeNote, revoked)
            in rows.decode(
                (String, String, String, Bool, Double?, Int64, String?, Int64?, String?, String?, String?, Int64?, String?, String?, Int64?).self)
        {
            guard let state = ModelState(rawValue: state) else {
                throw VeilError(.integrity, field: "models.state", "holds a state Veil does not know")
            }
            var record = ModelRecord(id: id, task: task, isPrivate: isPrivate, epsilon: epsilon, createdMillis: created, trainer: trainer)
            record.state = state
            record.reviewer = reviewer
            record.reviewNote = note
            record.qualityOverride = override
            record.spendId = spend
            record.reviewedMillis = reviewed
            record.revokedBy = revokedBy
            record.revokeNote = revokeNote
            record.revokedMillis = revoked
            records.append(record)
        }
        return records
    }
}

/// `ModelArtifactStore` on PostgreSQL: `model_artifacts` (the bytes as bytea, named by their content
/// hash). A put commits before it returns; a stored id is never overwritten.
struct PostgresArtifactStore: ModelArtifactStore {
    let database: VeilPostgresDatabase

    func put(_ artifact: Data, id: String) async throws {
        try await database.withConnection("store a model artifact") { connection in
            try await connection.query(
                "INSERT INTO model_artifacts (id, content) VALUES (\(id), \(artifact)) ON CONFLICT (id) DO NOTHING", logger: database.logger
            ).drain()
        }
    }

    func artifact(id: String) async throws -> Data? {
        try await database.withConnection("read a model artifact") { connection in
            for try await content in try await connection.query("SELECT content FROM model_artifacts WHERE id = \(id)", logger: database.logger)
                .decode(Data.self)
            {
                return content
            }
            return nil
        }
    }
}

/// `TokenStore` on PostgreSQL (`tokens`: the name is the key, the hash unique).
struct PostgresTokenStore: TokenStore {
    let chain: PostgresAuditChain

    private var database: VeilPostgresDatabase { chain.database }
    private var logger: Logger { chain.logger }

    func insert(_ record: TokenRecord, audit: AuditDraft) async throws {
        try await chain.audited("issue a token") { connection in
            var inserted = false
            // A taken name is told apart from a taken hash: the name is the operator's to change.
            for try await _ in try await connection.query(
                """
                INSERT INTO tokens (name, role, hash, created, revoked)
                VALUES (\(record.name), \(record.role.rawValue), \(Data(record.hash)), \(record.created), \(record.revoked))
                ON CONFLICT (name) DO NOTHING RETURNING 1
                """, logger: logger)
            {
                inserted = true
            }
            guard inserted else {
                throw VeilError(
                    .alreadyExists, field: "name",
                    "a token with this name exists already (revoked tokens keep their name); choose another name")
            }
            try await chain.append(audit, on: connection)
        }
    }

    func token(hash: [UInt8]) async throws -> TokenRecord? {
        try await database.withConnection("read a token") { connection in
            try await Self.records(
                connection.query("SELECT name, role, hash, created, revoked FROM tokens WHERE hash = \(Data(hash))", logger: logger)
            ).first
        }
    }

    func all() async throws -> [TokenRecord] {
        try await database.withConnection("list tokens") { connection in
            try await Self.records(
                connection.query("SELECT name, role, hash, created, revoked FROM tokens ORDER BY created, name", logger: logger))
        }
    }

    func revoke(name: String, at date: Date, audit: AuditDraft) async throws -> Bool {
        try await chain.audited("revoke a token") { connection in
            var changed = false
            for try await _ in try await connection.query(
                "UPDATE tokens SET revoked = \(date) WHERE name = \(name) AND revoked IS NULL RETURNING 1", logger: logger)
            {
                changed = true
            }
            guard changed else { return false }
            try await chain.append(audit, on: connection)
            return true
        }
    }

    private static func records(_ rows: PostgresRowSequence) async throws -> [TokenRecord] {
        var records: [TokenRecord] = []
        for try await (name, role, hash, created, revoked) in rows.decode((String, String, Data, Date, Date?).self) {
            guard let role = Role(rawValue: role) else {
                throw VeilError(.integrity, field: "tokens.role", "holds a role Veil does not know")
            }
            records.append(TokenRecord(name: name, role: role, hash: [UInt8](hash), created: created, revoked: revoked))
        }
        return records
    }
}

/// `SettingsStore` on PostgreSQL (`settings`).
struct PostgresSettingsStore: SettingsStore {
    let chain: PostgresAuditChain

    func value(for key: String) async throws -> String? {
        try await chain.database.withConnection("read a setting") { connection in
            for try await value in try await connection.query("SELECT value FROM settings WHERE key = \(key)", logger: chain.logger)
                .decode(String.self)
            {
                return value
            }
            return nil
        }
    }

    func set(_ value: String, for key: String, audit: AuditDraft?) async throws {
        try await chain.audited("store a setting") { connection in
            try await connection.query(
                "INSERT INTO settings (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                logger: chain.logger
            ).drain()
            if let audit { try await chain.append(audit, on: connection) }
        }
    }
}

/// `KeySetStore` on PostgreSQL: the one-row table `key_set`, written once.
struct PostgresKeySetStore: KeySetStore {
    let chain: PostgresAuditChain

    func keySet() async throws -> KeySetFingerprint? {
        try await chain.database.withConnection("read the key set") { connection in try await Self.read(connection, logger: chain.logger) }
    }

    func bind(_ fingerprint: KeySetFingerprint, audit: AuditDraft) async throws {
        try await chain.audited("bind the key set") { connection in
            var inserted = false
            for try await _ in try await connection.query(
                """
                INSERT INTO key_set (master_fingerprint, audit_public_key)
                VALUES (\(Data(fingerprint.master)), \(Data(fingerprint.auditPublicKey))) ON CONFLICT DO NOTHING RETURNING 1
                """, logger: chain.logger)
            {
                inserted = true
            }
            if inserted {
                try await chain.append(audit, on: connection)
            } else if try await Self.read(connection, logger: chain.logger) != fingerprint {
                throw VeilError(.conflict, field: "key_set", "the database is bound to another key set already")
            }
        }
    }

    private static func read(_ connection: PostgresConnection, logger: Logger) async throws -> KeySetFingerprint? {
        for try await (master, audit) in try await connection.query("SELECT master_fingerprint, audit_public_key FROM key_set", logger: logger)
            .decode((Data, Data).self)
        {
            return KeySetFingerprint(master: [UInt8](master), auditPublicKey: [UInt8](audit))
        }
        return nil
    }
}
