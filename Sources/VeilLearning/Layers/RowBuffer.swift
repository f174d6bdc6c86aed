/// A row-major matrix of `width` columns in one contiguous allocation. It grows (never shrinks) to the
/// most rows asked for, so once a run has settled a training step allocates nothing.
///
/// Contents are not kept when it grows: callers fill what they read.
final class RowBuffer<Scalar: BinaryFloatingPoint> {
    let width: Int
    private(set) var capacity = 0
    private(set) var base: UnsafeMutablePointer<Scalar>

    init(width: Int, rows: Int = 0) {
        precondition(width >= 0, "a width is never negative")
        self.width = width
        base = .allocate(capacity: 0)
        reserve(rows: rows)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `rows` rows, growing by at least half so varying batch sizes settle.
    func reserve(rows: Int) {
        guard rows > capacity else { return }
        let grown = max(rows, capacity + capacity / 2)
        base.deallocate()
        base = .allocate(capacity: max(grown * width, 1))
        capacity = grown
    }

    /// The first value of row `row`.
    @inline(__always)
    func row(_ row: Int) -> UnsafeMutablePointer<Scalar> { base + row * width }
}

/// Which rows of a chunk's activations belong to which example: example `e` owns rows
/// `starts[e] ..< starts[e + 1]`. Fixed-width row data has one row per example; a sequence has one row
/// per event.
struct ExampleRows {
    private(set) var starts: [Int] = [0]
    /// Whether every example owns exactly one row (row e is example e). Having as many rows as
    /// examples is not enough: an empty example and a two-row one also balance.
    private(set) var oneRowEach = true

    /// Examples in the chunk.
    var count: Int { starts.count - 1 }
    /// Rows in the chunk, over all examples.
    var rowCount: Int { starts[starts.count - 1] }

    /// Example `example`'s rows.
    @inline(__always)
    subscript(example: Int) -> Range<Int> { starts[example]..<starts[example + 1] }

    /// `count` examples of one row each.
    mutating func setOneRowEach(_ count: Int) {
        starts.removeAll(keepingCapacity: true)
        starts.append(contentsOf: 0...count)
        oneRowEach = true
    }

    /// Examples with the given row counts, in order.
    mutating func setLengths(_ lengths: some Sequence<Int>) {
        starts.removeAll(keepingCapacity: true)
        var total = 0
        starts.append(0)
        oneRowEach = true
        for length in lengths {
            total += length
            starts.append(total)
            oneRowEach = oneRowEach && length == 1
        }
    }
}
