import Synchronization

/// Passes the batches the validation segments of a file prepare to the store in file order: segment
/// 0's as they come, each later segment's once every earlier segment has finished (until then they
/// wait here). Once `abandon` is called nothing more is passed on.
///
/// It also remembers the file offset after each batch passed on, so progress can be reported as the
/// store writes them (`offset(ofBatch:)`), and numbers repeated content keys in file order
/// (`ContentKeyNumbering`) as it passes batches on.
///
/// Memory: a segment's producer calls `waitForRoom(segment:)` after each batch it delivers. A segment
/// whose turn has not come keeps at most `limit` batches waiting here; the one whose turn it is waits
/// for the store's room (`storeRoom`). So what waits depends on the batch size and the number of
/// segments, never on the file.
final class OrderedDelivery: Sendable {
    private struct State {
        var current = 0
        var waiting: [[(batch: IngestService.PreparedBatch, offset: Int)]]
        var finished: [Bool]
        var abandoned = false
        var offsets: [Int] = []
        var numbering = ContentKeyNumbering()
        /// Producers of later segments waiting for their segment's turn or for room in its list.
        var roomWaiters: [(segment: Int, continuation: CheckedContinuation<Void, Never>)] = []

        /// Whether `segment`'s producer may go on preparing batches without waiting here.
        func hasRoom(_ segment: Int, limit: Int) -> Bool {
            abandoned || segment <= current || waiting[segment].count < limit
        }

        /// Removes and returns the waiting producers that have room now.
        mutating func producersWithRoom(limit: Int) -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            var still: [(segment: Int, continuation: CheckedContinuation<Void, Never>)] = []
            for waiter in roomWaiters {
                if hasRoom(waiter.segment, limit: limit) { ready.append(waiter.continuation) } else { still.append(waiter) }
            }
            roomWaiters = still
            return ready
        }
    }

    private let state: Mutex<State>
    private let handOn: @Sendable (IngestService.PreparedBatch) -> Void
    private let limit: Int
    private let storeRoom: @Sendable () async -> Void

    /// Passes the batches of `segments` segments on to `pass`, in order (called with the delivery's
    /// lock held: `pass` must only hand the batch on, e.g. `EventBatchStream.send`). A segment whose
    /// turn has not come keeps at most `limit` batches here; `storeRoom` returns when the store has
    /// room for another batch (e.g. `EventBatchStream.waitForRoom(below:)`).
    init(
        segments: Int, limit: Int = 8, storeRoom: @escaping @Sendable () async -> Void = {},
        pass: @escaping @Sendable (IngestService.PreparedBatch) -> Void
    ) {
        state = Mutex(State(waiting: Array(repeating: [], count: segments), finished: Array(repeating: false, count: segments)))
        self.limit = max(1, limit)
        self.storeRoom = storeRoom
        handOn = pass
    }

    /// Returns when `segment`'s producer may prepare its next batch: at once if the delivery was
    /// abandoned; for a segment whose turn has not come, once fewer than `limit` of its batches wait
    /// here; for the segment whose turn it is, once the store has room.
    func waitForRoom(segment: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.hasRoom(segment, limit: limit) { return true }
                state.roomWaiters.append((segment, continuation))
                return false
            }
            if now { continuation.resume() }
        }
        let ownTurn = state.withLock { !$0.abandoned && segment == $0.current }
        if ownTurn { await storeRoom() }
    }

    /// Whether the delivery was abandoned (a segment found a problem or outgrew the limit).
    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// A prepared batch of `segment`, ending at file `offset`.
    func deliver(_ batch: IngestService.PreparedBatch, offset: Int, segment: Int) {
        state.withLock { state in
            guard !state.abandoned else { return }
            if segment == state.current {
                pass(batch, offset: offset, &state)
            } else {
                state.waiting[segment].append((batch, offset))
            }
        }
    }

    /// `segment` has delivered its last batch.
    func finish(segment: Int) {
        let producers = state.withLock { state in
            state.finished[segment] = true
            while state.current < state.finished.count && state.finished[state.current] {
                state.current += 1
                guard state.current < state.waiting.count else { break }
                let waiting = state.waiting[state.current]
                state.waiting[state.current] = []
                if !state.abandoned { for (batch, offset) in waiting { pass(batch, offset: offset, &state) } }
            }
            return state.producersWithRoom(limit: limit)
        }
        for producer in producers { producer.resume() }
    }

    /// Pass nothing more on, drop what waits, and let every producer go on (to finish its report).
    func abandon() {
        let producers = state.withLock { state in
            state.abandoned = true
            state.waiting = state.waiting.map { _ in [] }
            return state.producersWithRoom(limit: limit)
        }
        for producer in producers { producer.resume() }
    }

    /// The file offset after the `index`-th batch passed on (0-based).
    func offset(ofBatch index: Int) -> Int {
        state.withLock { $0.offsets[index] }
    }

    /// Whether any batch was passed on.
    var passedAny: Bool { state.withLock { !$0.offsets.isEmpty } }

    private func pass(_ batch: IngestService.PreparedBatch, offset: Int, _ state: inout State) {
        state.offsets.append(offset)
        var batch = batch
        state.numbering.number(&batch)
        handOn(batch)
    }
}
