import Foundation
import Synchronization

/// The batches of an import, handed from the producer (validation tasks on any thread) to
/// `EventStore.commitAll`.
///
/// The producer side never blocks and needs no task to run (`send`, `finish`), so CPU-bound producers
/// that occupy every cooperative thread still feed the store at once. A producer that may run ahead of
/// the store bounds what waits here by suspending in `waitForRoom(below:)` before it prepares its next
/// batch (an import's memory then depends on the batch size, not on the file); the reader calls
/// `stopReading` when it gives up, which wakes such producers and drops what waits.
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
        /// Batches sent, from `head` on those not yet taken; a taken slot is emptied, so the stream
        /// holds no batch the reader has taken, and the taken front is dropped once it is as long as
        /// what waits (`take`).
        var queue: [EventBatchWrite?] = []
        var head = 0
        /// Set once: nil until the producer finished; then success, or the error it ended with.
        var end: Result<Void, any Error>?
        /// An async reader waiting for the next element.
        var waiter: CheckedContinuation<EventBatchWrite?, any Error>?
        /// Producers waiting until fewer than `limit` batches wait for the reader.
        var roomWaiters: [(limit: Int, continuation: CheckedContinuation<Void, Never>)] = []
        /// The reader takes nothing more (`stopReading`).
        var readerStopped = false

        /// Batches sent and not yet taken.
        var waiting: Int { queue.count - head }

        /// Taken slots at the front of `queue` worth dropping (with what waits no longer than them).
        static let compactionFront = 64

        /// Removes and returns the producers that have room now.
        mutating func producersWithRoom() -> [CheckedContinuation<Void, Never>] {
            guard !roomWaiters.isEmpty else { return [] }
            let (waiting, stopped) = (waiting, readerStopped)
            let ready = roomWaiters.filter { stopped || waiting < $0.limit }
            guard !ready.isEmpty else { return [] }
            roomWaiters.removeAll { stopped || waiting < $0.limit }
            return ready.map(\.continuation)
        }

        /// The next element or the end, if either is ready; nil when the reader must wait.
        mutating func take() -> Result<EventBatchWrite?, any Error>? {
            if head < queue.count, let element = queue[head] {
                // Before, a taken batch stayed in `queue` until the reader had taken every batch sent:
                // a producer that kept one waiting at each take (a writer slower than validation) made
                // the stream hold every batch of the file (SQLite's one-transaction import of 2 M
                // events peaked at 585 MB, 379 MB since).
                queue[head] = nil
                head += 1
                if head == queue.count {
                    queue.removeAll(keepingCapacity: true)
                    head = 0
                } else if head >= Self.compactionFront && head * 2 >= queue.count {
                    queue.removeFirst(head)
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

    /// Whether the producer reports progress as batches are stored (`commitAll`'s `stored`), so a
    /// store should write the first batch at once; false: the producer counts only the commit, and a
    /// store that writes in units may gather a whole unit first (PostgreSQL: one unit per transaction
    /// of up to `unitEvents`).
    public let showsProgress: Bool

    public init(showsProgress: Bool = true) { self.showsProgress = showsProgress }

    /// Batches sent and not yet taken by the reader.
    public var waiting: Int { state.withLock { $0.waiting } }

    /// Hands `batch` to the store. Never blocks. After `stopReading` the batch is dropped.
    public func send(_ batch: EventBatchWrite) {
        let waiter = state.withLock { state -> CheckedContinuation<EventBatchWrite?, any Error>? in
            if state.readerStopped { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.queue.append(batch)
            return nil
        }
        if let waiter { waiter.resume(returning: batch) } else { ready.signal() }
    }

    /// Suspends until fewer than `limit` batches wait for the reader, or the reader stopped. A producer
    /// that calls it before each `send` keeps at most `limit` of its batches here.
    public func waitForRoom(below limit: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.readerStopped || state.waiting < limit { return true }
                state.roomWaiters.append((limit, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// The reader takes nothing more (it failed, or has what it needs): the batches waiting are dropped,
    /// later ones are not kept, and producers waiting for room go on.
    public func stopReading() {
        let producers = state.withLock { state in
            state.readerStopped = true
            state.queue = []
            state.head = 0
            return state.producersWithRoom()
        }
        for producer in producers { producer.resume() }
    }

    /// Takes the next batch or the end if ready (nil: wait), waking producers the taking made room for.
    private func takeNext() -> Result<EventBatchWrite?, any Error>? {
        let (next, producers) = state.withLock { state in (state.take(), state.producersWithRoom()) }
        for producer in producers { producer.resume() }
        return next
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
            if let next = takeNext() { return try next.get() }
            ready.wait()
        }
    }

    /// The next batch if one waits now, without suspending; nil when none does (the end, or the error
    /// the producer finished with, is left for `next`). For an async reader that gathers what is ready.
    public func nextIfWaiting() -> EventBatchWrite? {
        let (batch, producers) = state.withLock { state -> (EventBatchWrite?, [CheckedContinuation<Void, Never>]) in
            guard state.waiting > 0, case .success(let batch?)? = state.take() else { return (nil, []) }
            return (batch, state.producersWithRoom())
        }
        for producer in producers { producer.resume() }
        return batch
    }

    /// The next batch, suspending until there is one; nil at the end.
    public func next() async throws -> EventBatchWrite? {
        try await withCheckedThrowingContinuation { continuation in
            let (ready, producers) = state.withLock { state -> (Result<EventBatchWrite?, any Error>?, [CheckedContinuation<Void, Never>]) in
                if let next = state.take() { return (next, state.producersWithRoom()) }
                state.waiter = continuation
                return (nil, [])
            }
            for producer in producers { producer.resume() }
            if let ready { continuation.resume(with: ready) }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: EventBatchStream
        public mutating func next() async throws -> EventBatchWrite? { try await stream.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: self) }
}
