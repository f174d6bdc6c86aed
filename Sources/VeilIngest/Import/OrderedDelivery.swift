import Synchronization

/// Passes the batches the validation segments of a file prepare to the store in file order: segment
/// 0's as they come, each later segment's once every earlier segment has finished (until then they
/// wait here). Once `abandon` is called nothing more is passed on.
///
/// It also remembers the file offset after each batch passed on, so progress can be reported as the
/// store writes them (`offset(ofBatch:)`), and numbers repeated content keys in file order
/// (`ContentKeyNumbering`) as it passes batches on.
final class OrderedDelivery: Sendable {
    private struct State {
        var current = 0
        var waiting: [[(batch: IngestService.PreparedBatch, offset: Int)]]
        var finished: [Bool]
        var abandoned = false
        var offsets: [Int] = []
        var numbering = ContentKeyNumbering()
    }

    private let state: Mutex<State>
    private let handOn: @Sendable (IngestService.PreparedBatch) -> Void

    /// Passes the batches of `segments` segments on to `pass`, in order (called with the delivery's
    /// lock held: `pass` must only hand the batch on, e.g. `EventBatchStream.send`).
    init(segments: Int, pass: @escaping @Sendable (IngestService.PreparedBatch) -> Void) {
        state = Mutex(State(waiting: Array(repeating: [], count: segments), finished: Array(repeating: false, count: segments)))
        handOn = pass
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
        state.withLock { state in
            state.finished[segment] = true
            while state.current < state.finished.count && state.finished[state.current] {
                state.current += 1
                guard state.current < state.waiting.count else { break }
                let waiting = state.waiting[state.current]
                state.waiting[state.current] = []
                if !state.abandoned { for (batch, offset) in waiting { pass(batch, offset: offset, &state) } }
            }
        }
    }

    /// Pass nothing more on, and drop what waits.
    func abandon() {
        state.withLock { state in
            state.abandoned = true
            state.waiting = state.waiting.map { _ in [] }
        }
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
