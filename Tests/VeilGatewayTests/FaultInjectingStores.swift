import VeilCore
import VeilStore

/// TEST ONLY. An `EventStore` that changes only `commit` and sends every read, erasure and import to the real
/// store in `base`. The conformers below inject faults at the store boundary; they never stand in for
/// the store: whatever they let through is committed by the real SQLite store.
protocol ForwardingEventStore: EventStore {
    var base: any EventStore { get }
}

extension ForwardingEventStore {
    func commitAll(
        _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
        audit: @escaping @Sendable (BatchCommit) -> AuditDraft
    ) async throws -> BatchCommit {
        try await base.commitAll(batches, stored: stored, audit: audit)
    }
    func eventCount() async throws -> Int { try await base.eventCount() }
    func events(for pseudonym: Pseudonym) async throws -> [StoredEvent] { try await base.events(for: pseudonym) }
    func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk {
        try await base.events(after: cursor, limit: limit)
    }
    func scan(_ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        try await base.scan(filter, chunkSize: chunkSize, body)
    }
    func erase(_ pseudonym: Pseudonym, audit: @escaping @Sendable (ErasureCounts) -> AuditDraft) async throws -> ErasureCounts {
        try await base.erase(pseudonym, audit: audit)
    }
    func settle() async throws -> Double { try await base.settle() }
    func statistics() async throws -> StoredEventStatistics { try await base.statistics() }
    func latestEventMillis() async throws -> Int64? { try await base.latestEventMillis() }
    func containsEvents(in range: Range<Int64>) async throws -> Bool { try await base.containsEvents(in: range) }
}

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
