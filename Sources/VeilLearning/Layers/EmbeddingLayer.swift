/// Token rows: `fields` token indices per row, row-major (`SequenceSchema.Field` order for events).
struct TokenRows {
    let base: UnsafePointer<Int32>
    let fields: Int

    @inline(__always)
    func token(row: Int, field: Int) -> Int { Int(base[row * fields + field]) }
}

/// Embeds each row's tokens: one table of `width`-wide rows per field, and a row's output is the sum of
/// its fields' table rows (as BERT sums token, position and segment embeddings), so every field is
/// seen through the same `width` columns.
///
/// Parameters at `parameterOffset`: the tables in field order, each `tokenCounts[f] × width`, row-major.
/// It is a first layer: `backward` propagates nothing.
///
/// Per-example gradient norm: table row v of field f gets Σ δ_r over the example's rows r whose token
/// is v — one example can repeat an item, a type or a bucket many times. The layer sums those row
/// contributions per distinct token **before** taking the norm (Σ_f Σ_v ‖Σ_{r: tok_f(r) = v} δ_r‖²),
/// which is the exact norm; squaring row by row would overstate it whenever a token repeats. It forms
/// only the example's distinct rows (at most rows × fields of them), never the tables' size.
struct EmbeddingLayer<Scalar: ComputeScalar>: Layer {
    let tokenCounts: [Int]
    let width: Int
    let parameterOffset: Int

    var parameterCount: Int { tokenCounts.reduce(0, +) * width }
    var outputWidth: Int { width }

    /// Where each field's table starts, relative to `parameterOffset`.
    var tableOffsets: [Int] {
        var offsets: [Int] = []
        var total = 0
        for count in tokenCounts {
            offsets.append(total)
            total += count * width
        }
        return offsets
    }

    /// One example's distinct table rows and their summed signals, in buffers of its own (raw memory:
    /// the per-row loops touch no Swift array, so no exclusivity check or copy-on-write test runs in
    /// them).
    final class Memory {
        let tableOffsets: [Int]
        /// For each table row (all fields, flat), the stamp of the example that last used it and its slot.
        let stamps: UnsafeMutablePointer<Int>
        let slots: UnsafeMutablePointer<Int32>
        let tableRows: Int
        var stamp = 0
        /// The distinct rows in use: parameter index of the row's first value, per slot.
        private(set) var slotRows: UnsafeMutablePointer<Int>
        /// `width` summed values per slot.
        private(set) var sums: UnsafeMutablePointer<Scalar>
        /// Slots in use, and how many the buffers hold.
        var slotCount = 0
        private(set) var slotCapacity = 0
        let width: Int
        /// The example the slots describe, or -1.
        var example = -1

        init(tokenCounts: [Int], tableOffsets: [Int], width: Int) {
            self.tableOffsets = tableOffsets
            self.width = width
            tableRows = tokenCounts.reduce(0, +)
            stamps = .allocate(capacity: tableRows)
            stamps.initialize(repeating: -1, count: tableRows)
            slots = .allocate(capacity: tableRows)
            slots.initialize(repeating: 0, count: tableRows)
            slotRows = .allocate(capacity: 0)
            sums = .allocate(capacity: 0)
        }

        deinit {
            stamps.deallocate()
            slots.deallocate()
            slotRows.deallocate()
            sums.deallocate()
        }

        /// Makes room for `count` slots (contents are not kept: called before an example's first).
        func reserve(slots count: Int) {
            guard count > slotCapacity else { return }
            slotRows.deallocate()
            sums.deallocate()
            slotRows = .allocate(capacity: count)
            sums = .allocate(capacity: count * width)
            slotCapacity = count
        }
    }

    func makeMemory() -> Memory { Memory(tokenCounts: tokenCounts, tableOffsets: tableOffsets, width: width) }

    func forward(
        _ input: TokenRows, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        output: RowBuffer<Scalar>
    ) {
        memory.example = -1
        let offsets = memory.tableOffsets
        for row in 0..<rows.rowCount {
            let out = output.row(row)
            let first = parameters + parameterOffset + offsets[0] + input.token(row: row, field: 0) * width
            out.update(from: first, count: width)
            for field in 1..<tokenCounts.count {
                let table = parameters + parameterOffset + offsets[field] + input.token(row: row, field: field) * width
                for k in 0..<width { out[k] += table[k] }
            }
        }
    }

    func backward(
        _ input: TokenRows, rows: ExampleRows, parameters: UnsafePointer<Scalar>, memory: Memory,
        outputDelta: RowBuffer<Scalar>, inputDelta: RowBuffer<Scalar>?
    ) {
        memory.example = -1
    }

    func squaredGradientNorm(
        example: Int, input: TokenRows, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) -> Double {
        gather(example: example, input: input, rows: rows, memory: memory, outputDelta: outputDelta)
        return DenseKernels.squaredNorm(memory.sums, memory.slotCount * width)
    }

    func addGradient(
        example: Int, weight: Scalar, input: TokenRows, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {
        if memory.example != example {
            gather(example: example, input: input, rows: rows, memory: memory, outputDelta: outputDelta)
        }
        let slotRows = memory.slotRows, sums = memory.sums
        for slot in 0..<memory.slotCount {
            let target = gradient + slotRows[slot]
            let source = sums + slot * width
            for k in 0..<width { target[k] += weight * source[k] }
        }
    }

    func addChunkGradient(
        weights: UnsafePointer<Scalar>, input: TokenRows, rows: ExampleRows, memory: Memory,
        outputDelta: RowBuffer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
    ) {}

    /// Sums example `example`'s row signals per distinct (field, token) into `memory.sums`.
    private func gather(
        example: Int, input: TokenRows, rows: ExampleRows, memory: Memory, outputDelta: RowBuffer<Scalar>
    ) {
        memory.stamp += 1
        let stamp = memory.stamp
        let span = rows[example]
        memory.reserve(slots: span.count * tokenCounts.count)
        let stamps = memory.stamps, slots = memory.slots, slotRows = memory.slotRows, sums = memory.sums
        let offsets = memory.tableOffsets
        var slotCount = 0
        var firstRow = 0
        for field in 0..<tokenCounts.count {
            let fieldStart = parameterOffset + offsets[field]
            for row in span {
                let token = input.token(row: row, field: field)
                let tableRow = firstRow + token
                let slot: Int
                if stamps[tableRow] == stamp {
                    slot = Int(slots[tableRow])
                } else {
                    slot = slotCount
                    slotCount += 1
                    stamps[tableRow] = stamp
                    slots[tableRow] = Int32(slot)
                    slotRows[slot] = fieldStart + token * width
                    (sums + slot * width).update(repeating: 0, count: width)
                }
                let delta = outputDelta.row(row)
                let target = sums + slot * width
                for k in 0..<width { target[k] += delta[k] }
            }
            firstRow += tokenCounts[field]
        }
        memory.slotCount = slotCount
        memory.example = example
    }
}
