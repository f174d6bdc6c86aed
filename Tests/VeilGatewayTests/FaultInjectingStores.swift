import VeilCore
import VeilStore
import VeilTestSupport

/// TEST ONLY — fault injection. Every `commit` throws `VeilError(.unavailable)` without touching the
/// database, as a full disk or a lost volume would, so tests can show how the real `IngestService`
/// and the gateway answer when the store cannot commit.
struct UnavailableCommitStore: ForwardingEventStore {
    let base: any EventStore

    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        throw VeilError(.unavailable, field: "/data/veil.sqlite", "disk I/O error (injected)")
    }
}

/// TEST ONLY — fault injection (a slow disk). Each `commit` waits until the test calls `release()`,
/// then commits to the real store; `waitUntilEntered()` returns once a commit is waiting.
actor GatedCommitStore: ForwardingEventStore {
    nonisolated let base: any EventStore
    private var entered = false
    private var enteredWaiter: CheckedContinuation<Void, Never>?
    private var gate: CheckedContinuation<Void, Never>?

    init(base: any EventStore) { self.base = base }

    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit {
        entered = true
        enteredWaiter?.resume()
        enteredWaiter = nil
        await withCheckedContinuation { gate = $0 }
        return try await base.commit(batch)
    }

    /// Returns once a batch is waiting inside `commit`.
    func waitUntilEntered() async {
        if entered { return }
        await withCheckedContinuation { enteredWaiter = $0 }
    }

    /// Lets the waiting batch commit.
    func release() {
        gate?.resume()
        gate = nil
    }
}
