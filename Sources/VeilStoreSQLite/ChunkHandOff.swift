import Dispatch
import Synchronization
import VeilCore

/// Hands the chunks of a scan to the caller's `body` on a queue of its own, so SQLite reads and decodes
/// the next chunk while `body` consumes this one: a query's read and its aggregation run on two cores
/// instead of one after the other.
///
/// Contract (that of `EventStore.scan`): `body` sees the chunks in the order sent, one at a time. At
/// most `depth` chunks are sent and not yet consumed: `send` waits for room, on the reading thread (the
/// database's reader queue, never a cooperative thread). The first error `body` throws is rethrown,
/// marked as the caller's, by the next `send` and by `finish`, and `body` sees no chunk after it.
final class ChunkHandOff: Sendable {
    private let queue = DispatchQueue(label: "veil.sqlite.scan-consumer")
    private let room: DispatchSemaphore
    private let failure = Mutex<(any Error)?>(nil)
    private let body: @Sendable ([StoredEvent]) throws -> Void

    init(depth: Int = 2, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) {
        room = DispatchSemaphore(value: depth)
        self.body = body
    }

    /// Queues `chunk` for `body`, waiting while `depth` chunks are queued.
    func send(_ chunk: [StoredEvent]) throws {
        try rethrowFailure()
        room.wait()
        queue.async { [self] in
            defer { room.signal() }
            guard failure.withLock({ $0 == nil }) else { return }
            do { try body(chunk) } catch { failure.withLock { $0 = $0 ?? error } }
        }
    }

    /// Waits until `body` has consumed every chunk sent, then rethrows its error, if any.
    func finish() throws {
        queue.sync {}
        try rethrowFailure()
    }

    private func rethrowFailure() throws {
        if let error = failure.withLock({ $0 }) { throw CallerError(error: error) }
    }
}
