import Foundation
import Synchronization

/// The batches of an import, handed from the producer (validation tasks on any thread) to
/// `EventStore.commitAll`.
///
/// The producer side never blocks or suspends and needs no task to run (`send`, `finish`), so
/// CPU-bound producers that occupy every cooperative thread still feed the store at once. Unbounded:
/// producers already hold the batches in memory.
///
/// The store reads it in one of two ways, and only one per stream:
/// - as an `AsyncSequence` (a backend with async I/O, e.g. a COPY stream);
/// - with `nextWaiting()`, on a thread of the store's own (never a cooperative thread): SQLite runs the
///   import's transaction on its writer queue and waits there for each batch.
///
/// Either way the batches come in the order sent; after the last one, the sequence ends — or, if the
/// producer finished with an error, that error is thrown.
public final class EventBatchStream: AsyncSequence, Sendable {
    public typealias Element = EventBatchWrite

    private struct State {
        var queue: [EventBatchWrite] = []
        var head = 0
        /// Set once: nil until the producer finished; then success, or the error it ended with.
        var end: Result<Void, any Error>?
        /// An async reader waiting for the next element.
        var waiter: CheckedContinuation<EventBatchWrite?, any Error>?

        /// The next element or the end, if either is ready; nil when the reader must wait.
        mutating func take() -> Result<EventBatchWrite?, any Error>? {
            if head < queue.count {
                let element = queue[head]
                head += 1
                if head == queue.count {
                    queue.removeAll(keepingCapacity: true)
                    head = 0
                }
                return .success(element)
            }
            switch end {
            case nil: return nil
            case .success: return .success(nil)
            case .failure(let error): return .failure(error)
            }
        }
    }

    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)

    public init() {}

    /// Hands `batch` to the store. Never blocks.
    public func send(_ batch: EventBatchWrite) {
        let waiter = state.withLock { state -> CheckedContinuation<EventBatchWrite?, any Error>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.queue.append(batch)
            return nil
        }
        if let waiter { waiter.resume(returning: batch) } else { ready.signal() }
    }

    /// No more batches; `error` (if any) is thrown to the reader after the batches already sent. Only
    /// the first call counts.
    public func finish(throwing error: (any Error)? = nil) {
        let (first, waiter) = state.withLock { state -> (Bool, CheckedContinuation<EventBatchWrite?, any Error>?) in
            guard state.end == nil else { return (false, nil) }
            state.end = error.map { .failure($0) } ?? .success(())
            let waiter = state.waiter
            state.waiter = nil
            return (true, waiter)
        }
        guard first else { return }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        } else {
            ready.signal()
        }
    }

    /// The next batch, waiting for it on the calling thread; nil once the producer finished and every
    /// batch was taken. Throws the producer's error in place of nil. Call only from a thread the caller
    /// owns (e.g. a database writer queue), never from a task.
    public func nextWaiting() throws -> EventBatchWrite? {
        while true {
            if let next = state.withLock({ $0.take() }) { return try next.get() }
            ready.wait()
        }
    }

    /// The next batch, suspending until there is one; nil at the end.
    public func next() async throws -> EventBatchWrite? {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<EventBatchWrite?, any Error>? in
                if let next = state.take() { return next }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: EventBatchStream
        public mutating func next() async throws -> EventBatchWrite? { try await stream.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
