import Synchronization
import VeilCore

/// One privacy-budget spend as the ledger keeps it. Spends are never updated or deleted: a started
/// release is never refunded.
public struct BudgetSpend: Codable, Sendable, Equatable {
    /// Assigned by the store; nil before the spend is stored.
    public var id: Int64?
    public var dataset: String
    /// Who asked: a token name, or `cli`.
    public var principal: String
    /// The role the principal acted in (`trainer`, `analyst`, …).
    public var role: String
    /// What the release is (e.g. `train purchase`, `query count_users`).
    public var purpose: String
    /// The mechanism's JSON description (see `PrivacyMechanism` in `docs/privacy.md`).
    public var mechanism: String
    /// ε of this release alone at `delta`.
    public var epsilon: Double
    public var delta: Double
    /// ε of everything spent on the dataset so far, this release included, composed with RDP.
    public var cumulativeEpsilon: Double
    /// Unix milliseconds.
    public var createdMillis: Int64
    /// The seq of the spend's `budget.spend` audit record; nil only for a spend stored before the
    /// chain moved into the store whose record was never found (see `AuditChainStore.adopt`).
    public var auditSeq: UInt64?

    public init(
        id: Int64? = nil, dataset: String, principal: String, role: String, purpose: String, mechanism: String,
        epsilon: Double, delta: Double, cumulativeEpsilon: Double, createdMillis: Int64, auditSeq: UInt64? = nil
    ) {
        self.id = id
        self.dataset = dataset
        self.principal = principal
        self.role = role
        self.purpose = purpose
        self.mechanism = mechanism
        self.epsilon = epsilon
        self.delta = delta
        self.cumulativeEpsilon = cumulativeEpsilon
        self.createdMillis = createdMillis
        self.auditSeq = auditSeq
    }

    enum CodingKeys: String, CodingKey {
        case id, dataset, principal, role, purpose, mechanism, epsilon, delta
        case cumulativeEpsilon = "cumulative_epsilon"
        case createdMillis = "created_ms"
        case auditSeq = "audit_seq"
    }
}

/// What a reservation's decision returns: the spend to store and its `budget.spend` audit record.
public struct LedgerEntry: Sendable {
    /// `id` and `auditSeq` are ignored: the store assigns them.
    public var spend: BudgetSpend
    /// The store adds `spend_id` (the stored spend's id) to its details before sealing it
    /// (`AuditDraft.linking(spendID:)`), so the record names its ledger row.
    public var audit: AuditDraft

    public init(spend: BudgetSpend, audit: AuditDraft) {
        self.spend = spend
        self.audit = audit
    }
}

extension AuditDraft {
    /// The key of a `budget.spend` record's details that holds the spend's ledger id.
    public static let spendIDKey = "spend_id"

    /// This draft with `spend_id` set to `spendID`: how every backend links a spend's record to its row.
    public func linking(spendID: Int64) -> AuditDraft {
        var draft = self
        draft.details[Self.spendIDKey] = .int(spendID)
        return draft
    }
}

/// What a reservation's decision is handed: the dataset's spends, oldest first, and their lineage.
///
/// A lineage names one list of spends as a store keeps it while it only grows. Contract for every
/// store: two snapshots handed to decisions with the same lineage are the same list, the later one
/// possibly longer — it starts with every spend of the earlier one, in order, unchanged. A store gives
/// a fresh lineage whenever it cannot vouch for that: it read the ledger whole, or a transaction whose
/// decisions it had appended to its list failed. A decision that keeps state between decisions
/// (`LedgerComposition`) may then take a snapshot of the lineage it last saw, no shorter, as extending
/// it without comparing the spends one by one (which cost a reservation O(ledger) under the lock).
public struct LedgerSnapshot: RandomAccessCollection, Sendable {
    public let spends: [BudgetSpend]
    public let lineage: LedgerLineage

    /// `lineage` fresh unless the store vouches for the list (see the type's contract).
    public init(_ spends: [BudgetSpend], lineage: LedgerLineage = .fresh()) {
        self.spends = spends
        self.lineage = lineage
    }

    public var startIndex: Int { spends.startIndex }
    public var endIndex: Int { spends.endIndex }
    public subscript(position: Int) -> BudgetSpend { spends[position] }
}

/// Names one growing list of spends (`LedgerSnapshot`); equal only to itself and its copies.
public struct LedgerLineage: Sendable, Hashable {
    private let value: UInt64

    private static let issued = Atomic<UInt64>(0)

    /// A lineage no other list has.
    public static func fresh() -> LedgerLineage { LedgerLineage(value: issued.wrappingAdd(1, ordering: .relaxed).newValue) }
}

/// The persisted budget ledger.
///
/// Contract — what is atomic with what:
/// - `reserve` is check-and-spend in one transaction: it reads the dataset's spends, runs `decide`,
///   stores the spend it returns and seals its `budget.spend` record (seq = chain head + 1, the
///   record's details carrying `spend_id`, the row carrying the record's seq), and commits. No other
///   spend on the dataset, in this or another process or replica, commits in between. The spend, its
///   row and its record commit together or not at all: after any crash the ledger and the chain tell
///   one story. `reserve` returns only after the commit is durable.
/// - `decide` must be pure — it reads only its argument and may throw — because a backend may run it
///   more than once (a backend may retry a transaction; neither SQLite nor PostgreSQL does). If it
///   throws, nothing is written for this reservation and its error is rethrown as it is.
/// - A backend may group concurrent reservations into one transaction (PostgreSQL does:
///   `GroupCommitQueue`). `decide` is then handed the spends committed before the group and those
///   decided earlier in it, in order — exactly what it would read had each reservation committed
///   alone — and they all commit together or not at all; a refused one writes nothing.
/// - `decide` is handed a `LedgerSnapshot`, whose lineage keeps that type's contract.
/// - The caps come from the policy recorded with the ledger. With `policyHash` (the hash of the policy
///   `decide`'s caps come from), `reserve` reads the recorded one (`SettingKey.policyHash`) inside the
///   transaction, ordered with `policy.load` records as the chain orders them, and when they differ
///   throws `LedgerPolicy.mismatch` (`.conflict`, naming both hashes) without running `decide` or
///   writing anything: a process or replica started with another policy file never spends under
///   caps other than the recorded policy's. Without `policyHash` nothing is checked (tests, tools
///   that hold no policy).
public protocol LedgerStore: Sendable {
    /// Every spend on `dataset`, oldest first.
    func spends(dataset: String) async throws -> [BudgetSpend]

    /// Every spend on every dataset, oldest first (for checking the ledger against the chain).
    func allSpends() async throws -> [BudgetSpend]

    /// Check-and-spend as one atomic step with its audit record, under the recorded policy `policyHash`
    /// when it is given; see the protocol's contract. `preparation`: work `decide` would first do on
    /// the spends it is handed that needs no lock. A backend whose ledger lock other processes wait
    /// for may, when `preparation.isCostly` says so of the spends it read under the lock, release the
    /// lock with nothing written, run `preparation.prepare` on those (committed) spends without it,
    /// and take the lock again to decide (PostgreSQL does; SQLite, one process, ignores it). `decide`
    /// still runs once, on what is committed when it runs.
    func reserve(
        dataset: String, policyHash: String?, preparation: LedgerPreparation?,
        _ decide: @escaping @Sendable (LedgerSnapshot) throws -> LedgerEntry
    ) async throws -> BudgetSpend

    /// Hands `dataset`'s committed spends, oldest first, to `warm` without waiting for the ledger's
    /// lock, and keeps what the backend keeps between reservations (PostgreSQL: the replica's copy of
    /// the ledger), so that a process that calls it before it serves — with `warm` composing the
    /// spends as its decisions will — does not read and compose the whole ledger under the lock in its
    /// first reservation. Writes nothing; the next reservation still reads, under the lock, every spend
    /// committed since (this only moves work out of it).
    func warm(dataset: String, _ warm: @Sendable (LedgerSnapshot) throws -> Void) async throws
}

extension LedgerStore {
    /// Reads the spends and hands them over (a backend that keeps nothing between reservations).
    public func warm(dataset: String, _ warm: @Sendable (LedgerSnapshot) throws -> Void) async throws {
        try warm(LedgerSnapshot(try await spends(dataset: dataset)))
    }

    /// Check-and-spend with no preparation.
    public func reserve(
        dataset: String, policyHash: String?, _ decide: @escaping @Sendable (LedgerSnapshot) throws -> LedgerEntry
    ) async throws -> BudgetSpend {
        try await reserve(dataset: dataset, policyHash: policyHash, preparation: nil, decide)
    }

    /// Check-and-spend without checking the recorded policy.
    public func reserve(dataset: String, _ decide: @escaping @Sendable (LedgerSnapshot) throws -> LedgerEntry) async throws
        -> BudgetSpend
    {
        try await reserve(dataset: dataset, policyHash: nil, decide)
    }
}

/// Work a reservation's decision does first on the spends it is handed that needs no lock — composing
/// spends its process has not composed yet (`LedgerComposition`: after another replica's DP-SGD spend,
/// building that run's loss distribution and convolving it with the ledger's, tens of milliseconds) —
/// so that a backend whose ledger lock every replica waits for can do it without the lock
/// (`LedgerStore.reserve`).
public struct LedgerPreparation: Sendable {
    /// Whether deciding on these spends would first do such work, at a cost worth releasing the lock for.
    public let isCostly: @Sendable (LedgerSnapshot) -> Bool
    /// Does that work on committed spends, so that a decision on spends that extend them does not.
    public let prepare: @Sendable (LedgerSnapshot) throws -> Void

    public init(isCostly: @escaping @Sendable (LedgerSnapshot) -> Bool, prepare: @escaping @Sendable (LedgerSnapshot) throws -> Void) {
        self.isCostly = isCostly
        self.prepare = prepare
    }
}

/// One `LedgerStore.reserve` call waiting for the transaction of its group (`GroupCommitQueue`).
public struct LedgerReservation: Sendable {
    /// Reservations in one group at most (one transaction, the ledger's lock held meanwhile).
    public static let maxGroup = 64

    public let dataset: String
    public let policyHash: String?
    public let preparation: LedgerPreparation?
    public let decide: @Sendable (LedgerSnapshot) throws -> LedgerEntry

    public init(
        dataset: String, policyHash: String?, preparation: LedgerPreparation? = nil,
        decide: @escaping @Sendable (LedgerSnapshot) throws -> LedgerEntry
    ) {
        self.dataset = dataset
        self.policyHash = policyHash
        self.preparation = preparation
        self.decide = decide
    }
}

/// The rule every backend applies to a reservation's policy (`LedgerStore.reserve`), stated once.
public enum LedgerPolicy {
    /// Nil when a reservation under `running` may spend with `recorded` recorded; else the refusal.
    public static func check(running: String?, recorded: String?) -> VeilError? {
        guard let running, running != recorded else { return nil }
        return mismatch(running: running, recorded: recorded)
    }

    /// The refusal: names both hashes and what to do.
    public static func mismatch(running: String, recorded: String?) -> VeilError {
        VeilError(
            .conflict, field: "policy",
            "this process runs policy \(running) but the ledger's recorded policy is \(recorded ?? "none"); nothing was spent. "
                + "Restart it with the recorded policy file, or load this policy (start any command with it) so that it is recorded")
    }
}
