import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilStore

/// The audit chain's use cases for operators and auditors: verify the chain the store holds (with
/// every spend's cumulative ε recomputed, the ledger checked against the spend records, and the mirror
/// compared), verify a log file, and verify-then-checkpoint. `veil audit verify | checkpoint` call these
/// (`AuditExport` serves `veil audit export` and `GET /v1/audit`).
///
/// Contract:
/// - `verify` and `checkpoint` run exactly the same checks: chain, seq, signatures, the cumulative ε of
///   every `budget.spend` recomputed with the accountant that record names (`AuditAccountant`), the ledger's
///   spends one for one with the chain's `budget.spend` records, and the mirror a prefix of the chain.
/// - `checkpoint` signs nothing unless that verification passes: a chain `verify` rejects never gets
///   a checkpoint vouching for it.
/// - The last checkpoint signed is also kept in the store (`SettingKey.lastAuditCheckpoint`), so the
///   server can show it beside the head and verify against it (`lastCheckpoint`). That copy lives on the
///   host it vouches for: it catches a database restored from an older copy without its settings, not a
///   thief with write access; the auditor's own copy, kept elsewhere, is the anchor.
public struct AuditService: Sendable {
    private let chain: any AuditChainStore
    private let ledger: any LedgerStore
    private let settings: any SettingsStore
    /// `<data-dir>/audit.log`, the chain's mirror.
    public let mirrorPath: String
    private let clock: WallClock

    /// The chain in `chain`, the spends in `ledger`, the last checkpoint in `settings`, the mirror at
    /// `mirrorPath`; `clock` stamps checkpoints (tests pass a fixed one).
    public init(
        chain: any AuditChainStore, ledger: any LedgerStore, settings: any SettingsStore, mirrorPath: String, clock: WallClock = .system
    ) {
        self.chain = chain
        self.ledger = ledger
        self.settings = settings
        self.mirrorPath = mirrorPath
        self.clock = clock
    }

    /// Verifies the store's chain with `publicKey` (and against `checkpoint`, when given), recomputing
    /// the cumulative ε of every spend, checks the ledger against the spend records and compares the
    /// mirror. A chain that fails a check is a result with `failure` set; throws only when the store
    /// cannot be read.
    public func verify(publicKey: SigningPublicKey, checkpoint: AuditCheckpoint? = nil) async throws -> ChainVerification {
        var records: [SealedAuditRecord] = []
        try await chain.forEachRecord { records += $0 }
        let lines = records.map(\.line)
        let verification = AuditVerifier.verify(
            lines: lines, publicKey: publicKey, checkpoint: checkpoint, recomputeEpsilon: AuditAccountant.recomputation())
        let agreement = LedgerAgreement.check(spends: try await ledger.allSpends(), records: records)
        return ChainVerification(
            chain: verification, ledger: agreement, mirror: MirrorAgreement.compare(mirrorPath: mirrorPath, chain: lines))
    }

    /// Verifies a log file (an export, or a mirror) with nothing but `publicKey`, recomputing ε.
    /// Throws `.notFound` when the file cannot be read.
    public static func verifyFile(path: String, publicKey: SigningPublicKey, checkpoint: AuditCheckpoint? = nil) throws
        -> AuditVerification
    {
        AuditVerifier.verify(
            lines: AuditVerifier.lines(of: try AuditMirror.contents(path: path)), publicKey: publicKey, checkpoint: checkpoint,
            recomputeEpsilon: AuditAccountant.recomputation())
    }

    /// Verifies as `verify` does and signs a checkpoint of the chain's head with `signingKey`, keeping
    /// it as the last checkpoint. Throws `.integrity` naming the first failure when verification fails;
    /// nothing is signed or kept then.
    public func checkpoint(signingKey: SigningKey) async throws -> AuditCheckpoint {
        let result = try await verify(publicKey: signingKey.publicKey)
        if let reason = result.failureDescription {
            throw VeilError(.integrity, field: "audit chain", "does not verify (\(reason)); refusing to sign a checkpoint")
        }
        let checkpoint = AuditCheckpoint(head: result.chain.head, time: clock.now(), signingKey: signingKey)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try await settings.set(String(decoding: try encoder.encode(checkpoint), as: UTF8.self), for: SettingKey.lastAuditCheckpoint, audit: nil)
        return checkpoint
    }

    /// The last checkpoint `checkpoint` signed on this store, nil when none was. Its signature is not
    /// checked here: `verify(publicKey:checkpoint:)` checks it.
    public func lastCheckpoint() async throws -> AuditCheckpoint? {
        guard let text = try await settings.value(for: SettingKey.lastAuditCheckpoint) else { return nil }
        return try AuditCheckpoint.decode(Data(text.utf8), source: "the kept checkpoint (\(SettingKey.lastAuditCheckpoint))")
    }
}

/// The store's chain verified (`AuditService.verify`), with the ledger and the mirror compared to it.
/// JSON: the keys of `AuditVerification`, then `ledger` and `mirror`.
public struct ChainVerification: Sendable, Encodable {
    public let chain: AuditVerification
    public let ledger: LedgerAgreement
    public let mirror: MirrorAgreement

    /// True when the chain verifies, the ledger agrees with it and the mirror is not ahead of it or
    /// different from it.
    public var isValid: Bool { failureDescription == nil }

    /// The first failure in words, or nil.
    public var failureDescription: String? {
        if let failure = chain.failure {
            return "\(failure.line.map { "record \($0), " } ?? "")seq \(failure.seq ?? 0): \(failure.reason)"
        }
        if !ledger.agrees { return "the ledger and the chain disagree: \(ledger.note)" }
        if !mirror.agrees { return "the mirror \(mirror.path) disagrees with the chain: \(mirror.note)" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case valid, failure, ledger, mirror
    }

    /// The chain's keys (`records_checked`, `head_seq`, …), with `valid` and `failure` covering the
    /// ledger and the mirror too.
    public func encode(to encoder: any Encoder) throws {
        try chain.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isValid, forKey: .valid)
        if chain.failure == nil, let reason = failureDescription {
            try container.encode(AuditFailure(line: nil, seq: nil, reason: reason), forKey: .failure)
        }
        try container.encode(ledger, forKey: .ledger)
        try container.encode(mirror, forKey: .mirror)
    }
}

/// Whether the ledger's spends are the chain's `budget.spend` records, one for one: each record has a
/// row linked to its seq (`audit_seq`) with the record's ε, and each row is linked to such a record.
public struct LedgerAgreement: Sendable, Hashable, Encodable {
    public let spends: Int
    public let spendRecords: Int
    public let agrees: Bool
    public let note: String

    enum CodingKeys: String, CodingKey {
        case spends, agrees, note
        case spendRecords = "spend_records"
    }

    static func check(spends: [BudgetSpend], records: [SealedAuditRecord]) -> LedgerAgreement {
        var rows: [UInt64: BudgetSpend] = [:]
        var unlinked = 0
        for spend in spends {
            if let seq = spend.auditSeq { rows[seq] = spend } else { unlinked += 1 }
        }
        var spendRecords = 0
        var problems: [String] = []
        for record in records {
            guard let body = SpendRecord.body(of: record), body.action == AuditAction.budgetSpend.rawValue else { continue }
            spendRecords += 1
            guard let row = rows.removeValue(forKey: record.seq) else {
                problems.append("record \(record.seq) (budget.spend) has no ledger row")
                continue
            }
            if SpendRecord.number(body.details["cumulative_epsilon"]) != row.cumulativeEpsilon
                || SpendRecord.number(body.details["epsilon"]) != row.epsilon
            {
                problems.append("spend \(row.id ?? 0) and record \(record.seq) state different ε")
            }
        }
        for seq in rows.keys.sorted() { problems.append("a ledger row is linked to record \(seq), which is not a budget.spend record") }
        if unlinked > 0 { problems.append("\(unlinked) ledger row(s) have no budget.spend record") }
        let note =
            problems.isEmpty
            ? "\(spends.count) spend(s), each with its budget.spend record"
            : problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")
        return LedgerAgreement(spends: spends.count, spendRecords: spendRecords, agrees: problems.isEmpty, note: note)
    }
}

/// Whether `audit.log` holds the chain's first records, byte for byte: the mirror may lag behind the
/// store (it is brought up to date after each commit), never run ahead or differ.
public struct MirrorAgreement: Sendable, Hashable, Encodable {
    public let path: String
    /// Complete records in the mirror.
    public let records: Int
    public let agrees: Bool
    public let note: String

    static func compare(mirrorPath: String, chain: [String]) -> MirrorAgreement {
        guard FileManager.default.fileExists(atPath: mirrorPath), let bytes = try? AuditMirror.contents(path: mirrorPath) else {
            return MirrorAgreement(path: mirrorPath, records: 0, agrees: true, note: "no mirror yet; it is written from the database")
        }
        var lines = AuditVerifier.lines(of: bytes)
        if bytes.last != UInt8(ascii: "\n"), !lines.isEmpty { lines.removeLast() }  // a torn tail, cut at the next append
        guard lines.count <= chain.count else {
            return MirrorAgreement(
                path: mirrorPath, records: lines.count, agrees: false,
                note: "the mirror holds \(lines.count) records but the database only \(chain.count)")
        }
        if let index = lines.indices.first(where: { lines[$0] != chain[$0] }) {
            return MirrorAgreement(
                path: mirrorPath, records: lines.count, agrees: false, note: "record \(index + 1) differs from the database's")
        }
        let behind = chain.count - lines.count
        return MirrorAgreement(
            path: mirrorPath, records: lines.count, agrees: true,
            note: behind == 0 ? "the mirror holds every record" : "the mirror is \(behind) record(s) behind (written after each commit)")
    }
}
