import Foundation
import GRDB
import Glibc
import VeilCore
import VeilStore

/// `ModelStore` on the Veil SQLite database (the `models` table).
struct SQLiteModelStore: ModelStore {
    let database: VeilDatabase
    let chain: SQLiteAuditChain

    func register(_ record: ModelRecord, audit: AuditDraft) async throws -> ModelRecord {
        try await database.write("models.register") { db in
            try db.execute(
                sql: """
                    INSERT INTO models (id, task, state, is_private, epsilon, created_ms, trainer, spend_id, reviewer, review_note, reviewed_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING
                    """,
                arguments: [
                    record.id, record.task, record.state.rawValue, record.isPrivate, record.epsilon, record.createdMillis,
                    record.trainer, record.spendId, record.reviewer, record.reviewNote, record.reviewedMillis,
                ])
            try chain.append(audit, in: db)
            return try Self.find(record.id, in: db) ?? record
        }
    }

    func all() async throws -> [ModelRecord] {
        try await database.read("models.all") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY created_ms DESC").map(Self.record)
        }
    }

    func find(id: String) async throws -> ModelRecord? {
        try await database.read("models.find") { db in try Self.find(id, in: db) }
    }

    func review(
        id: String, to state: ModelState, reviewer: String, note: String, qualityOverride: String?, atMillis: Int64,
        audit: @escaping @Sendable (ModelRecord) -> AuditDraft
    ) async throws -> ModelRecord {
        try await database.write("models.review") { db in
            let record = try ModelRecord.reviewing(
                try Self.find(id, in: db), id: id, to: state, reviewer: reviewer, note: note, qualityOverride: qualityOverride,
                atMillis: atMillis)
            try db.execute(
                sql: "UPDATE models SET state = ?, reviewer = ?, review_note = ?, quality_override = ?, reviewed_ms = ? WHERE id = ?",
                arguments: [state.rawValue, reviewer, note, qualityOverride, atMillis, id])
            try chain.append(audit(record), in: db)
            return record
        }
    }

    func revoke(
        id: String, by reviewer: String, note: String, atMillis: Int64,
        audit: @escaping @Sendable (ModelRecord) -> AuditDraft
    ) async throws -> ModelRecord {
        try await database.write("models.revoke") { db in
            let record = try ModelRecord.revoking(try Self.find(id, in: db), id: id, by: reviewer, note: note, atMillis: atMillis)
            try db.execute(
                sql: "UPDATE models SET state = ?, revoked_by = ?, revoke_note = ?, revoked_ms = ? WHERE id = ?",
                arguments: [record.state.rawValue, reviewer, note, atMillis, id])
            try chain.append(audit(record), in: db)
            return record
        }
    }

    func serving(task: String) async throws -> ModelRecord? {
        try await database.read("models.serving") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM models WHERE task = ? AND state = ? ORDER BY reviewed_ms DESC LIMIT 1",
                arguments: [task, ModelState.approved.rawValue]
            ).map(Self.record)
        }
    }

    private static func find(_ id: String, in db: Database) throws -> ModelRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM models WHERE id = ?", arguments: [id]).map(record)
    }

    private static func record(_ row: Row) throws -> ModelRecord {
        guard let state = ModelState(rawValue: row["state"]) else {
            throw VeilError(.integrity, field: "models.state", "holds a state Veil does not know")
        }
        var record = ModelRecord(
            id: row["id"], task: row["task"], isPrivate: row["is_private"], epsilon: row["epsilon"],
            createdMillis: row["created_ms"], trainer: row["trainer"])
        record.state = state
        record.reviewer = row["reviewer"]
        record.reviewNote = row["review_note"]
        record.reviewedMillis = row["reviewed_ms"]
        record.qualityOverride = row["quality_override"]
        record.spendId = row["spend_id"]
        record.revokedBy = row["revoked_by"]
        record.revokeNote = row["revoke_note"]
        record.revokedMillis = row["revoked_ms"]
        return record
    }

    /// Creates `models` (v1).
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("models-v1") { db in
            try db.create(table: "models") { table in
                table.primaryKey("id", .text)
                table.column("task", .text).notNull().indexed()
                table.column("state", .text).notNull()
                table.column("is_private", .boolean).notNull()
                table.column("epsilon", .double)
                table.column("created_ms", .integer).notNull()
                table.column("reviewer", .text)
                table.column("review_note", .text)
                table.column("reviewed_ms", .integer)
            }
        }
    }

    /// The review columns, registered after every other store's migrations (`VeilDatabase.migrator`):
    /// v2 who revoked an approval, why and when; v3 who trained the model (empty for the models before
    /// it); v4 the override note of an approval past the quality gate; v5 the spend that paid for the run.
    static func registerReviewMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("models-v2-revoke") { db in
            try db.alter(table: "models") { table in
                table.add(column: "revoked_by", .text)
                table.add(column: "revoke_note", .text)
                table.add(column: "revoked_ms", .integer)
            }
        }
        migrator.registerMigration("models-v3-trainer") { db in
            try db.alter(table: "models") { table in table.add(column: "trainer", .text) }
        }
        migrator.registerMigration("models-v4-quality-override") { db in
            try db.alter(table: "models") { table in table.add(column: "quality_override", .text) }
        }
        migrator.registerMigration("models-v5-spend") { db in
            try db.alter(table: "models") { table in table.add(column: "spend_id", .integer) }
        }
    }
}

/// `ModelArtifactStore` as files beside the database: `<data-dir>/models/<id>.json`. A new artifact is
/// written to a temporary file, synced, renamed into place and its directory synced, so it is either
/// whole or absent after a crash. File I/O runs off the cooperative pool.
struct FileArtifactStore: ModelArtifactStore {
    /// `<data-dir>/models`.
    let directory: String

    init(dataDirectory: String) {
        directory = (dataDirectory as NSString).appendingPathComponent("models")
    }

    func put(_ artifact: Data, id: String) async throws {
        guard Self.isFileName(id) else {
            throw VeilError(.invalidInput, field: "model_id", "must be lowercase hex")
        }
        let path = self.path(id)
        let directory = directory
        try await BlockingIO.run {
            guard !FileManager.default.fileExists(atPath: path) else { return }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let temporary = path + ".tmp"
                guard FileManager.default.createFile(atPath: temporary, contents: artifact) else {
                    throw VeilError(.unavailable, field: temporary, "cannot write the model artifact (is the disk full?)")
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
                try handle.synchronize()
                try handle.close()
                guard rename(temporary, path) == 0 else {
                    throw VeilError(.unavailable, field: path, "cannot move the model artifact into place")
                }
                let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if descriptor >= 0 {
                    _ = fsync(descriptor)
                    close(descriptor)
                }
            } catch let error as VeilError {
                throw error
            } catch {
                throw VeilError(.unavailable, field: directory, "cannot write the model artifact (is the disk full?)")
            }
        }
    }

    func artifact(id: String) async throws -> Data? {
        guard Self.isFileName(id) else { return nil }
        let path = self.path(id)
        return try await BlockingIO.run { FileManager.default.contents(atPath: path) }
    }

    /// Ids are lowercase hex digests: anything else names no file here, and never one outside it.
    private static func isFileName(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    private func path(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).json") }
}
