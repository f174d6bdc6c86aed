import Foundation
import Synchronization

/// Hands batches from producers on any thread to the database writer, which blocks on `receive`
/// inside its write transaction (on GRDB's writer queue, never on a cooperative thread). `send` never
/// blocks and needs no task to run, so CPU-bound producers that occupy every cooperative thread (the
/// validation segments of an import) still feed the writer at once. Unbounded: producers already hold
/// the batches in memory.
public final class BatchChannel<Element: Sendable>: Sendable {
    private struct State {
        var queue: [Element] = []
        var head = 0
        /// Set once: nil until the producer finished; then success, or the error it ended with.
        var end: Result<Void, any Error>?
    }

    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)

    public init() {}

    public func send(_ element: Element) {
        state.withLock { $0.queue.append(element) }
        ready.signal()
    }

    /// No more elements; `error` (if any) is thrown to the receiver after the elements already sent.
    public func finish(throwing error: (any Error)? = nil) {
        let first = state.withLock { state in
            guard state.end == nil else { return false }
            state.end = error.map { .failure($0) } ?? .success(())
            return true
        }
        if first { ready.signal() }
    }

    /// The next element, waiting for it; nil once the producer finished and every element was taken.
    /// Throws the producer's error in place of nil.
    public func receive() throws -> Element? {
        while true {
            let next: Result<Element?, any Error>? = state.withLock { state in
                if state.head < state.queue.count {
                    let element = state.queue[state.head]
                    state.head += 1
                    if state.head == state.queue.count {
                        state.queue.removeAll(keepingCapacity: true)
                        state.head = 0
                    }
                    return .success(element)
                }
                switch state.end {
                case nil: return nil
                case .success: return .success(nil)
                case .failure(let error): return .failure(error)
                }
            }
            if let next { return try next.get() }
            ready.wait()
        }
    }
}
