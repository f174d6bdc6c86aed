import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// The audit chain in PostgreSQL: `audit_records` (seq, line, hash) and `audit_head`, the one row
/// holding the chain's head, which every append locks (`SELECT … FOR UPDATE`) inside the transaction
/// of the change it records.
///
/// One chain across replicas: the head's row lock makes appends from every process and replica take
/// turns — each reads the head the previous commit left, seals seq = head + 1 after its hash, and holds
/// the lock until its transaction ends — so no two records share a seq and the hashes chain. Every
/// write takes the head's lock last (after the rows it changes: a dataset's ledger row, event ids,
/// vault rows), so two transactions never wait for each other in a circle. No SERIALIZABLE retries: a
/// transaction runs its closures (a decision, an escrow) once.
final class PostgresAuditChain: Sendable {
    let database: VeilPostgresDatabase
    private let sealer: (any AuditSealer)?
    private let committed: @Sendable () -> Void

    init(database: VeilPostgresDatabase, configuration: StoreConfiguration) {
        self.database = database
        sealer = configuration.sealer
        committed = configuration.auditCommitted
    }

    var logger: Logger { database.logger }

    /// Runs `body` in one transaction that may seal audit records (`append`), and tells the store's
    /// observer after the commit (the process's mirror catches up). Returns once the commit is durable.
    func audited<T: Sendable>(_ doing: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let result = try await database.withTransaction(doing, body)
        committed()
        return result
    }

    /// Seals `draft` after the chain's head and stores it, inside the caller's transaction, holding the
    /// head's row lock until that transaction ends.
    @discardableResult
    func append(_ draft: AuditDraft, on connection: PostgresConnection) async throws -> SealedAuditRecord {
        let record = try seal(draft, after: try await lockedHead(connection))
        try await store([record], on: connection)
        return record
    }

    /// Seals `draft` as the record after `head` (the caller holds the head's lock: `lockedHead`), in
    /// memory; `store` writes it.
    func seal(_ draft: AuditDraft, after head: AuditHead) throws -> SealedAuditRecord {
        guard let sealer else {
            throw VeilError(
                .forbidden, field: "audit.secret",
                "the store was opened without the audit signing key; this change cannot be recorded")
        }
        return try CallerError.marking { try sealer.seal(draft, after: head) }
    }

    /// The head, locked until the running transaction ends.
    func lockedHead(_ connection: PostgresConnection) async throws -> AuditHead {
        var head = AuditHead.empty
        for try await (seq, hash) in try await connection.query(
            "SELECT seq, hash FROM audit_head FOR UPDATE", logger: logger
        ).decode((Int64, Data).self) {
            head = AuditHead(seq: UInt64(seq), hash: [UInt8](hash))
        }
        return head
    }

    /// Stores sealed records as they are, consecutive and continuing the head, in one statement, and
    /// makes the last one the head (the caller holds the head's lock).
    func store(_ records: [SealedAuditRecord], on connection: PostgresConnection) async throws {
        guard let last = records.last else { return }
        try await connection.query(
            """
            INSERT INTO audit_records (seq, line, hash)
            SELECT * FROM unnest(\(records.map { Int64($0.seq) })::bigint[], \(records.map(\.line))::text[],
                \(records.map { ByteBuffer(bytes: $0.hash) })::bytea[])
            """, logger: logger
        ).drain()
        try await connection.query("UPDATE audit_head SET seq = \(Int64(last.seq)), hash = \(Data(last.hash))", logger: logger).drain()
    }

    /// Tells the observer now (after a write that stored records sealed elsewhere).
    func notifyCommitted() { committed() }
}

/// `AuditChainStore` on PostgreSQL.
struct PostgresAuditChainStore: AuditChainStore {
    let chain: PostgresAuditChain

    private var database: VeilPostgresDatabase { chain.database }

    func append(_ draft: AuditDraft) async throws -> SealedAuditRecord {
        try await chain.audited("append an audit record") { connection in try await chain.append(draft, on: connection) }
    }

    func head() async throws -> AuditHead {
        try await database.withConnection("read the audit chain's head") { connection in
            var head = AuditHead.empty
            for try await (seq, hash) in try await connection.query("SELECT seq, hash FROM audit_head", logger: chain.logger)
                .decode((Int64, Data).self)
            {
                head = AuditHead(seq: UInt64(seq), hash: [UInt8](hash))
            }
            return head
        }
    }

    func records(after seq: UInt64, limit: Int) async throws -> [SealedAuditRecord] {
        precondition(limit > 0, "a page holds at least one record")
        return try await database.withConnection("read audit records") { connection in
            var records: [SealedAuditRecord] = []
            for try await (seq, line, hash) in try await connection.query(
                "SELECT seq, line, hash FROM audit_records WHERE seq > \(Int64(clamping: seq)) ORDER BY seq LIMIT \(limit)",
                logger: chain.logger
            ).decode((Int64, String, Data).self) {
                records.append(SealedAuditRecord(seq: UInt64(seq), hash: [UInt8](hash), line: line))
            }
            return records
        }
    }

    /// A PostgreSQL database never held a file-only log: nothing to import.
    func importPending() async throws -> Bool { false }

    func adopt(_ records: [SealedAuditRecord], spends: [AdoptedSpend], completingImport: Bool) async throws {
        try await database.withTransaction("adopt audit records") { connection in
            var expected = try await chain.lockedHead(connection).seq + 1
            for record in records {
                guard record.seq == expected else {
                    throw VeilError(
                        .conflict, field: "audit_records",
                        "the records to adopt start at seq \(record.seq) but the store's chain continues at seq \(expected)")
                }
                expected += 1
            }
            try await chain.store(records, on: connection)
            for adopted in spends { try await PostgresLedgerStore.adopt(adopted, on: connection, logger: chain.logger) }
        }
        if !records.isEmpty { chain.notifyCommitted() }
    }
}
