import Synchronization

/// Group commit, stated once for every backend: requests that arrive while a group is being written
/// wait, and the next group takes all of them (up to `maxWeight`), so concurrent writers share one
/// transaction and one durable flush instead of queueing for one each. SQLite groups event batches
/// with it; both backends group reservations (one lock and one COMMIT for many spends).
///
/// Contract:
/// - `submit` returns only after `write` returned for the group holding the request: a backend's
///   `write` returns after its COMMIT returned, so a result handed back is durable;
/// - `write` gets the group in arrival order and returns one result per request, in that order: a
///   request may fail alone (a refused reservation writes nothing) while the rest of its group
///   commits; when `write` throws, every request of the group gets that error and none of them is
///   stored (the group is one transaction);
/// - one group is written at a time per queue; a group holds at least one request, and stops growing
///   before `maxWeight` (the sum of `weight`) would be passed;
/// - each group's `write` runs, and its results are handed back, in a task of `priority` (the
///   writer's, the default priority, when nil), whatever the submitters' priorities.
public final class GroupCommitQueue<Request: Sendable, Response: Sendable>: Sendable {
    /// Writes one group in one transaction; see the type's contract.
    public typealias Write = @Sendable ([Request]) async throws -> [Result<Response, any Error>]

    private struct Waiter: Sendable {
        let request: Request
        let continuation: CheckedContinuation<Response, any Error>
    }

    private struct State: Sendable {
        var waiting: [Waiter] = []
        var writing = false
        var groups = 0
    }

    private let state = Mutex(State())
    private let weight: @Sendable (Request) -> Int
    private let maxWeight: Int
    private let priority: TaskPriority?
    private let write: Write

    /// - Parameters:
    ///   - weight: what a request counts towards `maxWeight` (events in a batch; 1 by default).
    ///   - maxWeight: a group stops growing at this weight (it always holds at least one request).
    ///   - priority: the priority each group's `write` runs at. A `write` that holds a lock other
    ///     processes wait for across its awaits — a reservation group holds the ledger's and the
    ///     chain head's row locks from its read to its COMMIT — passes `.high`: each time one of its
    ///     queries returns it must run again before the lock is released, and at the default priority
    ///     that continuation waits behind every job the process's other tasks queued on the
    ///     cooperative pool (on Linux a higher priority runs on threads of its own; docs/deploy.md,
    ///     "Measuring"). The groups are still taken at the default priority: a writer that starts
    ///     behind the jobs of the requests just answered finds those that resubmit at once waiting,
    ///     where one of its own priority would start a group with the first of them alone.
    public init(
        weight: @escaping @Sendable (Request) -> Int = { _ in 1 }, maxWeight: Int, priority: TaskPriority? = nil,
        write: @escaping Write
    ) {
        precondition(maxWeight > 0, "a group holds at least one request")
        self.weight = weight
        self.maxWeight = maxWeight
        self.priority = priority
        self.write = write
    }

    /// How many groups were handed to `write` so far (for tests and measurements).
    public var groupsWritten: Int { state.withLock { $0.groups } }

    /// Writes `request` in the next group and returns its result once that group's transaction ended.
    public func submit(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = state.withLock { state in
                state.waiting.append(Waiter(request: request, continuation: continuation))
                if state.writing { return false }
                state.writing = true
                return true
            }
            if startWriter { Task.detached { await self.writeGroups() } }
        }
    }

    /// Writes groups until no request is waiting; only one runs at a time (`writing`).
    private func writeGroups() async {
        while let group = nextGroup() {
            if let priority {
                await Task(priority: priority) { await self.commit(group) }.value
            } else {
                await commit(group)
            }
        }
    }

    /// Writes one group and hands each of its requests its result.
    private func commit(_ group: [Waiter]) async {
        do {
            let results = try await write(group.map(\.request))
            precondition(results.count == group.count, "a group's write returns one result per request")
            for (waiter, result) in zip(group, results) { waiter.continuation.resume(with: result) }
        } catch {
            for waiter in group { waiter.continuation.resume(throwing: error) }
        }
    }

    /// Takes the next group off the queue, or ends the writer's turn (nil) when the queue is empty.
    private func nextGroup() -> [Waiter]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.writing = false
                return nil
            }
            var count = 0
            var total = 0
            for waiter in state.waiting {
                let next = weight(waiter.request)
                if count > 0 && total + next > maxWeight { break }
                count += 1
                total += next
            }
            let group = Array(state.waiting.prefix(count))
            state.waiting.removeFirst(count)
            state.groups += 1
            return group
        }
    }
}
