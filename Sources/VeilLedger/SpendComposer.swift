import Synchronization
import VeilPrivacy

/// Composes a ledger's spends in spend order and remembers the result, so that composing a list that
/// extends one composed before composes only the spends added since. The ledger checks every request
/// against all earlier spends and the verifier replays every spend record; with a PLD accountant
/// composing from scratch each time would cost O(n²) convolutions over a log of n spends.
///
/// Contract: `epsilon(composing:delta:method:)` returns exactly — bit for bit — what
/// `PrivacyAccountant.epsilon(composing:delta:method:)` returns, since both compose one release at a
/// time in the order given. Up to `capacity` lineages (the dataset, each role, each principal) are
/// remembered; the least recently used is forgotten first.
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

    /// ε at `delta` of `mechanisms` composed in order with `method`.
    func epsilon(composing mechanisms: [PrivacyMechanism], delta: Double, method: AccountingMethod) -> Double {
        accountant(composing: mechanisms, method: method).epsilon(delta: delta)
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
