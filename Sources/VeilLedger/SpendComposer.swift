import Synchronization
import VeilPrivacy

/// Composes a ledger's spends in spend order and remembers the result, so that composing a list that
/// extends one composed before composes only the spends added since. The ledger checks every request
/// against all earlier spends and the verifier replays every spend record; with a PLD accountant
/// composing from scratch each time would cost O(n²) convolutions over a log of n spends.
///
/// Contract: `epsilon(composing:then:delta:method:)` returns exactly — bit for bit — what
/// `PrivacyAccountant.epsilon(composing:delta:method:)` returns for `committed + candidates`, since both
/// compose one release at a time in the order given. Only `committed` is remembered: the caller passes
/// there spends the store has committed (the rows a ledger transaction hands its decision, the records
/// of a signed chain, or — in a group of reservations sharing one transaction — the spends decided
/// earlier in the group, which commit with it or not at all), and the release it is deciding on as
/// `candidates`, which are composed on a copy and forgotten. A reservation that is refused, fails or
/// is retried therefore never leaves the remembered composition ahead of the store (only a group that
/// fails to commit can, and harmlessly: see next); and since a list is found by its content (the
/// longest remembered list that `committed` starts with), a store that holds fewer spends than a
/// remembered list (a restored database, a failed group) is composed from the longest list it does
/// extend. Remembering is
/// invisible to callers, so a decision that composes through it stays pure. Up to `capacity` lists
/// (the dataset, each role, each principal) are remembered; the least recently used is forgotten first.
final class SpendComposer: Sendable {
    private struct Entry: Sendable {
        let method: AccountingMethod
        let mechanisms: [PrivacyMechanism]
        let accountant: PrivacyAccountant
        var lastUse: Int
    }

    private struct State: Sendable {
        var entries: [Entry] = []
        var uses = 0
    }

    /// How many composed lists are kept.
    static let capacity = 8
    private let state = Mutex(State())

    init() {}

    /// ε at `delta` of `committed` then `candidates`, composed in order with `method`; only
    /// `committed` is remembered.
    func epsilon(
        composing committed: [PrivacyMechanism], then candidates: [PrivacyMechanism] = [], delta: Double, method: AccountingMethod
    ) -> Double {
        var composed = accountant(composing: committed, method: method)
        composed.compose(candidates)
        return composed.epsilon(delta: delta)
    }

    /// The lists remembered for `method`, longest first (for tests).
    func rememberedLists(method: AccountingMethod) -> [[PrivacyMechanism]] {
        state.withLock { state in
            state.entries.filter { $0.method == method }.map(\.mechanisms).sorted { $0.count > $1.count }
        }
    }

    /// The accountant of `mechanisms` composed in order with `method`, starting from the longest
    /// remembered list that `mechanisms` extends.
    func accountant(composing mechanisms: [PrivacyMechanism], method: AccountingMethod) -> PrivacyAccountant {
        let start = state.withLock { state -> (count: Int, accountant: PrivacyAccountant) in
            state.uses += 1
            let candidates = state.entries.indices.filter {
                state.entries[$0].method == method && mechanisms.starts(with: state.entries[$0].mechanisms)
            }
            guard let best = candidates.max(by: { state.entries[$0].mechanisms.count < state.entries[$1].mechanisms.count }) else {
                return (0, PrivacyAccountant(method))
            }
            state.entries[best].lastUse = state.uses
            return (state.entries[best].mechanisms.count, state.entries[best].accountant)
        }
        guard start.count < mechanisms.count else { return start.accountant }
        var accountant = start.accountant
        accountant.compose(mechanisms[start.count...])
        state.withLock { state in
            // The new list supersedes the lists it extends.
            state.entries.removeAll { $0.method == method && mechanisms.starts(with: $0.mechanisms) }
            state.entries.append(Entry(method: method, mechanisms: mechanisms, accountant: accountant, lastUse: state.uses))
            if state.entries.count > Self.capacity, let oldest = state.entries.indices.min(by: { state.entries[$0].lastUse < state.entries[$1].lastUse }) {
                state.entries.remove(at: oldest)
            }
        }
        return accountant
    }
}
