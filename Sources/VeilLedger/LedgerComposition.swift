import Synchronization
import VeilPrivacy
import VeilStore

/// The composition of one dataset's committed spends as a reservation's decision needs it — the
/// dataset's, and each capped role's and capped principal's — kept between decisions, so that a
/// decision decodes and composes only the spends committed since the one before instead of every
/// spend's mechanism JSON each time (which made a reservation's time grow with the ledger and kept
/// the ledger's lock held while it ran).
///
/// Contract: `composed(_:)` returns exactly — bit for bit — the accountants that composing the
/// decoded mechanisms of all the snapshot's spends from scratch, in order, gives (`PrivacyAccountant`
/// composes one release at a time in the order given, so composing the new spends onto the kept state
/// is the same computation). The kept state is used only when the snapshot starts with the spends it
/// was made from: vouched for by the store when the snapshot has the lineage of the one they were
/// made from and is no shorter (`LedgerSnapshot`'s contract), else compared by id, mechanism JSON,
/// role and principal — everything the composition reads — so a store that holds other spends or
/// fewer (a restored database, a group that failed to commit after its decisions ran) is composed
/// from scratch. Only the spends a decision is handed are kept, never the request it decides on, and keeping is invisible to the caller: a decision stays pure. The
/// dataset's composition with the last request decided on (`datasetEpsilon`) is remembered apart:
/// when the next ledger is the kept one plus exactly that release — the request was granted — it is
/// taken as the dataset's composition instead of composing the release a second time (the same
/// computation on the same state, so the same bits).
final class LedgerComposition: Sendable {
    /// Spends composed onto one accountant, and how many.
    struct Running: Sendable {
        private(set) var accountant: PrivacyAccountant
        private(set) var count = 0

        init(_ method: AccountingMethod) { accountant = PrivacyAccountant(method) }

        mutating func compose(_ mechanism: PrivacyMechanism) {
            accountant.compose(mechanism)
            count += 1
        }

        /// ε at `delta` of what is composed; 0 when nothing is.
        func spent(delta: Double) -> Double { count == 0 ? 0 : accountant.epsilon(delta: delta) }

        /// ε at `delta` of what is composed, then `candidate`.
        func epsilon(then candidate: PrivacyMechanism, delta: Double) -> Double {
            var composed = accountant
            composed.compose(candidate)
            return composed.epsilon(delta: delta)
        }
    }

    /// The composition of a list of spends.
    struct Composed: Sendable {
        /// What identifies each composed spend, in order: a later list must start with these.
        fileprivate var keys: [Key] = []
        /// The lineage of the snapshot `keys` were last checked against.
        fileprivate var lineage: LedgerLineage?
        /// Which fresh start these spends were composed from (a remembered request matches only its own).
        fileprivate var generation = 0
        /// The dataset's spends.
        var dataset: Running
        /// The spends of each role with a cap.
        var roles: [String: Running]
        /// The spends of each principal with a cap.
        var principals: [String: Running]

        /// The composition of a role's spends (nothing composed for a role that has none).
        func role(_ name: String, method: AccountingMethod) -> Running { roles[name] ?? Running(method) }

        /// The composition of a principal's spends (nothing composed for one that has none).
        func principal(_ name: String, method: AccountingMethod) -> Running { principals[name] ?? Running(method) }
    }

    /// What the composition reads of a spend.
    fileprivate struct Key: Sendable {
        let id: Int64?
        let mechanism: String
        let role: String
        let principal: String

        init(_ spend: BudgetSpend) {
            id = spend.id
            mechanism = spend.mechanism
            role = spend.role
            principal = spend.principal
        }

        /// Whether `spend` is the spend this key was made from, as far as the composition reads it.
        func identifies(_ spend: BudgetSpend) -> Bool {
            id == spend.id && mechanism == spend.mechanism && role == spend.role && principal == spend.principal
        }
    }

    private let method: AccountingMethod
    private let cappedRoles: Set<String>
    private let cappedPrincipals: Set<String>
    private let decode: @Sendable (String) throws -> PrivacyMechanism
    /// The dataset's composition after a request was composed onto a kept composition.
    private struct Candidate: Sendable {
        let generation: Int
        let base: Int
        let mechanism: PrivacyMechanism
        let dataset: Running

        /// Whether a spend of `mechanism` composed onto `base` spends of composition `generation` is
        /// this request: then `dataset` is their composition already.
        func isSpend(of mechanism: PrivacyMechanism, onto base: Int, of generation: Int?) -> Bool {
            self.generation == generation && self.base == base && self.mechanism == mechanism
        }
    }

    private struct State: Sendable {
        var composed: Composed?
        var generations = 0
        var candidate: Candidate?
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - cappedRoles, cappedPrincipals: whose spends are composed apart (the policy's caps).
    ///   - decode: a stored mechanism JSON's mechanism; throws for a damaged ledger.
    init(
        method: AccountingMethod, cappedRoles: Set<String>, cappedPrincipals: Set<String>,
        decode: @escaping @Sendable (String) throws -> PrivacyMechanism
    ) {
        self.method = method
        self.cappedRoles = cappedRoles
        self.cappedPrincipals = cappedPrincipals
        self.decode = decode
    }

    /// The composition of `snapshot`'s spends (in order); see the type's contract.
    func composed(_ snapshot: LedgerSnapshot) throws -> Composed {
        let spends = snapshot.spends
        return try state.withLock { state in
            // Taken out of the state while it grows, so that appending to its keys does not copy them
            // (a copy of every key per decision made each one cost O(ledger)); put back below.
            var composed: Composed
            // A kept composition `spends` does not extend: kept again if a mechanism cannot be read.
            var unused: Composed?
            switch state.composed.take() {
            case let kept? where extends(snapshot, kept): composed = kept
            case let kept:
                unused = kept
                composed = fresh(&state)
            }
            let start = composed.keys.count
            let mechanisms: [PrivacyMechanism]
            do {
                // All read before any is composed: a damaged one leaves the kept composition as it was.
                mechanisms = try spends[start...].map { try decode($0.mechanism) }
            } catch {
                state.composed = unused ?? (start == 0 ? nil : composed)
                throw error
            }
            for (spend, mechanism) in zip(spends[start...], mechanisms) {
                if let candidate = state.candidate, candidate.isSpend(of: mechanism, onto: composed.keys.count, of: composed.generation) {
                    composed.dataset = candidate.dataset
                } else {
                    composed.dataset.compose(mechanism)
                }
                if cappedRoles.contains(spend.role) { composed.roles[spend.role, default: Running(method)].compose(mechanism) }
                if cappedPrincipals.contains(spend.principal) {
                    composed.principals[spend.principal, default: Running(method)].compose(mechanism)
                }
                composed.keys.append(Key(spend))
            }
            composed.lineage = snapshot.lineage
            state.composed = composed
            return composed
        }
    }

    /// Whether `composed(snapshot)` would compose a spend whose mechanism is not a pure ε release (a
    /// pure one's distribution has two losses; another's is built — a DP-SGD run's by transform — and
    /// convolved with the ledger's, tens of milliseconds): a spend of `snapshot` past what the kept
    /// composition holds (all of them when it does not extend to `snapshot`), other than the
    /// remembered request it takes over (`datasetEpsilon`). Such work need not hold the ledger's lock
    /// (`LedgerPreparation`). Always false under RDP, whose composition is a sum of curves. A
    /// mechanism that cannot be read does not count (`composed` throws for it). Changes nothing.
    func wouldComposeCostly(_ snapshot: LedgerSnapshot) -> Bool {
        guard case .pld = method else { return false }
        let spends = snapshot.spends
        return state.withLock { state in
            var start = 0
            var generation: Int?
            if let kept = state.composed, extends(snapshot, kept, counting: false) { (start, generation) = (kept.keys.count, kept.generation) }
            for index in spends.indices.dropFirst(start) {
                guard let mechanism = try? decode(spends[index].mechanism) else { return false }
                if index == start, state.candidate?.isSpend(of: mechanism, onto: start, of: generation) == true { continue }
                if case .pureEpsilon = mechanism { continue }
                return true
            }
            return false
        }
    }

    /// ε at `delta` of the dataset's spends in `composed`, then `candidate` (the request a decision
    /// decides on); remembered for the next `composed(_:)` (see the type's contract).
    func datasetEpsilon(_ composed: Composed, then candidate: PrivacyMechanism, delta: Double) -> Double {
        var after = composed.dataset
        after.compose(candidate)
        let remembered = Candidate(generation: composed.generation, base: composed.keys.count, mechanism: candidate, dataset: after)
        state.withLock { $0.candidate = remembered }
        return after.spent(delta: delta)
    }

    /// The ids of the spends the kept composition was made from, in order (for tests).
    func keptSpendIDs() -> [Int64?] { state.withLock { $0.composed?.keys.map(\.id) ?? [] } }

    /// How many times a kept composition was checked against a snapshot spend by spend (for tests).
    var spendBySpendChecks: Int { comparisons.load(ordering: .relaxed) }

    private let comparisons = Atomic<Int>(0)

    private func fresh(_ state: inout State) -> Composed {
        state.generations += 1
        return Composed(generation: state.generations, dataset: Running(method), roles: [:], principals: [:])
    }

    /// Whether `snapshot` starts with the spends `kept` was made from: by lineage, or spend by spend
    /// (`counting` such checks in `spendBySpendChecks`).
    private func extends(_ snapshot: LedgerSnapshot, _ kept: Composed, counting: Bool = true) -> Bool {
        let (spends, keys) = (snapshot.spends, kept.keys)
        guard spends.count >= keys.count else { return false }
        if kept.lineage == snapshot.lineage { return true }
        if counting { comparisons.add(1, ordering: .relaxed) }
        // The newest first: a list that does not extend the kept one usually differs at its end.
        for index in keys.indices.reversed() where !keys[index].identifies(spends[index]) { return false }
        return true
    }
}
