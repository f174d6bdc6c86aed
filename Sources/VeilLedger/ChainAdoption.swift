import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilStore

/// Reading `budget.spend` records back into ledger rows.
enum SpendRecord {
    /// The record's body, or nil when the line is not a well-formed record.
    static func body(of record: SealedAuditRecord) -> AuditBody? {
        guard case .success(let line) = AuditLine.parse(record.line), case .success(let body) = AuditBody.parse(line.body) else {
            return nil
        }
        return body
    }

    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }

    /// The ledger row a `budget.spend` record describes (with its `spend_id` as id when it has one),
    /// or nil when the record lacks a field a row needs.
    static func spend(of body: AuditBody) -> BudgetSpend? {
        let details = body.details
        guard case .string(let dataset)? = details["dataset"], case .string(let principal)? = details["principal"],
            case .string(let role)? = details["role"], case .string(let purpose)? = details["purpose"],
            let mechanismJSON = details["mechanism"], let epsilon = number(details["epsilon"]),
            let delta = number(details["delta"]), let cumulative = number(details["cumulative_epsilon"]),
            let time = AuditTime.date(body.time),
            let mechanism = try? JSONDecoder().decode(PrivacyMechanism.self, from: JSONEncoder().encode(mechanismJSON)),
            let text = try? BudgetService.encode(mechanism)
        else { return nil }
        var id: Int64?
        if case .int(let value)? = details[AuditDraft.spendIDKey] { id = value }
        return BudgetSpend(
            id: id, dataset: dataset, principal: principal, role: role, purpose: purpose, mechanism: text, epsilon: epsilon,
            delta: delta, cumulativeEpsilon: cumulative, createdMillis: Int64((time.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// Whether `row` is the spend `record` describes (ids and times aside).
    static func matches(_ row: BudgetSpend, _ record: BudgetSpend) -> Bool {
        row.dataset == record.dataset && row.principal == record.principal && row.role == record.role
            && row.purpose == record.purpose && row.epsilon == record.epsilon && row.cumulativeEpsilon == record.cumulativeEpsilon
            && mechanismsEqual(row.mechanism, record.mechanism)
    }

    private static func mechanismsEqual(_ a: String, _ b: String) -> Bool {
        guard let x = try? BudgetService.decode(a), let y = try? BudgetService.decode(b) else { return a == b }
        return x == y
    }
}

/// Records of a verified log file, ready to adopt into a store's chain.
struct VerifiedLog {
    let records: [SealedAuditRecord]
    let bodies: [AuditBody]

    /// Reads and verifies the log at `path` as `veil audit verify` would: chain and signatures with
    /// `publicKey`, and the cumulative ε of every `budget.spend` record recomputed with the accountant
    /// the record names (RDP for records that name none; `AuditAccountant`), so the ledger rebuilt from
    /// it states what an auditor recomputes. A missing file is an empty log. Throws `.integrity` naming
    /// the file, line, seq and reason when it does not verify.
    static func read(path: String, publicKey: SigningPublicKey) throws -> VerifiedLog {
        guard FileManager.default.fileExists(atPath: path) else { return VerifiedLog(records: [], bodies: []) }
        let bytes = try AuditMirror.contents(path: path)
        var lines = AuditVerifier.lines(of: bytes)
        if bytes.last != UInt8(ascii: "\n"), !lines.isEmpty { lines.removeLast() }  // a torn tail: never acknowledged
        let result = AuditVerifier.verify(
            lines: lines, publicKey: publicKey, checkpoint: nil, recomputeEpsilon: AuditAccountant.recomputation())
        if let failure = result.failure {
            throw VeilError(
                .integrity, field: path,
                "does not verify with the audit public key and the accountants its spends name (line \(failure.line ?? 0), seq \(failure.seq ?? 0): \(failure.reason)); nothing was adopted")
        }
        var records: [SealedAuditRecord] = []
        var bodies: [AuditBody] = []
        for text in lines {
            guard case .success(let line) = AuditLine.parse(text), case .success(let body) = AuditBody.parse(line.body) else {
                continue  // cannot happen: the verifier parsed every line
            }
            records.append(SealedAuditRecord(seq: body.seq, hash: line.hash, line: text))
            bodies.append(body)
        }
        return VerifiedLog(records: records, bodies: bodies)
    }
}

/// Moving a data directory's chain into its store once (crash-contract.md §3): a directory made before
/// the chain lived in the store has only `audit.log`. Its records are verified with the key set's
/// audit public key and copied into the store; every `budget.spend` record gets a ledger row — the
/// existing row it describes, linked to it, or a new row when the ledger never got one (a spend whose
/// transaction did not commit after its record was written: budget is never un-spent) — all in one
/// transaction with the marker that says the import is done.
public enum LegacyChainImport {
    /// What the import did.
    public struct Report: Sendable, Equatable {
        public var records: Int
        /// Existing ledger rows linked to their records.
        public var linked: Int
        /// Rows created for spend records the ledger lacked.
        public var restored: Int
        /// Ledger rows no record describes (left as they are: never un-spend).
        public var unrecorded: Int
    }

    /// Imports `<mirrorPath>` into `stores` when the store says an import is pending; nil otherwise.
    public static func runIfPending(stores: StoreSet, mirrorPath: String, publicKey: SigningPublicKey) async throws -> Report? {
        guard try await stores.audit.importPending() else { return nil }
        let log = try VerifiedLog.read(path: mirrorPath, publicKey: publicKey)
        var unmatched = try await stores.ledger.allSpends().filter { $0.auditSeq == nil }
        var spends: [AdoptedSpend] = []
        var report = Report(records: log.records.count, linked: 0, restored: 0, unrecorded: 0)
        for (record, body) in zip(log.records, log.bodies) where body.action == AuditAction.budgetSpend.rawValue {
            guard var spend = SpendRecord.spend(of: body) else {
                throw VeilError(
                    .integrity, field: mirrorPath, "record \(record.seq) is a budget.spend record without the fields of a spend; nothing was adopted")
            }
            if let index = unmatched.firstIndex(where: { SpendRecord.matches($0, spend) }) {
                spend.id = unmatched.remove(at: index).id
                report.linked += 1
            } else {
                spend.id = nil
                report.restored += 1
            }
            spends.append(AdoptedSpend(auditSeq: record.seq, spend: spend))
        }
        report.unrecorded = unmatched.count
        try await stores.audit.adopt(log.records, spends: spends, completingImport: true)
        return report
    }
}

/// `veil db recover`: rebuilds the chain and the ledger of a database that is empty, missing or older
/// than `audit.log` (crash-contract.md §3), from the signed log after verifying it with the audit
/// public key. The records the store lacks are adopted with a ledger row for each spend among them
/// (under the spend id its record names). The events of a lost database cannot be recovered; the
/// spends can.
public enum ChainRecovery {
    /// What the recovery did.
    public struct Report: Sendable, Equatable, Encodable {
        /// The store's chain head before and after.
        public var fromSeq: UInt64
        public var toSeq: UInt64
        public var recordsAdopted: Int
        public var spendsRestored: Int

        enum CodingKeys: String, CodingKey {
            case fromSeq = "from_seq"
            case toSeq = "to_seq"
            case recordsAdopted = "records_adopted"
            case spendsRestored = "spends_restored"
        }
    }

    /// Recovers `stores` from the log at `mirrorPath`, verified with `keys`' audit key. Refuses
    /// (`.integrity`) a log that does not verify, and one whose record at the store's head differs from
    /// the store's (they tell different stories: nothing to recover from); refuses (`.keyFile`, naming
    /// the file) when the log records another key set than `keys`, so a recovery never binds the
    /// rebuilt directory to a foreign `master.key`. A store that is not behind the log is left alone.
    public static func recover(stores: StoreSet, mirrorPath: String, keys: KeyRing) async throws -> Report {
        let log = try VerifiedLog.read(path: mirrorPath, publicKey: keys.auditSigningKey.publicKey)
        try KeySetBinding.check(keys, recordedIn: log.bodies, location: stores.location)
        let head = try await stores.audit.head()
        var report = Report(fromSeq: head.seq, toSeq: head.seq, recordsAdopted: 0, spendsRestored: 0)
        guard head.seq < UInt64(log.records.count) else { return report }
        if head.seq > 0, log.records[Int(head.seq) - 1].hash != head.hash {
            throw VeilError(
                .integrity, field: mirrorPath,
                "record \(head.seq) differs from the database's record \(head.seq): the log and the database tell different stories, and neither can be rebuilt from the other. Restore the database that belongs to this log")
        }
        let missing = log.records[Int(head.seq)...]
        var spends: [AdoptedSpend] = []
        for (record, body) in zip(missing, log.bodies[Int(head.seq)...]) where body.action == AuditAction.budgetSpend.rawValue {
            guard let spend = SpendRecord.spend(of: body) else {
                throw VeilError(
                    .integrity, field: mirrorPath, "record \(record.seq) is a budget.spend record without the fields of a spend; nothing was adopted")
            }
            spends.append(AdoptedSpend(auditSeq: record.seq, spend: spend))
        }
        try await stores.audit.adopt(Array(missing), spends: spends, completingImport: false)
        report.toSeq = missing.last?.seq ?? head.seq
        report.recordsAdopted = missing.count
        report.spendsRestored = spends.count
        return report
    }
}
