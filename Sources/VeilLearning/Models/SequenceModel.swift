import VeilCore

/// A sequence model as the trainers see it: each event's tokens embedded (`EmbeddingLayer`), an encoder
/// over each sequence in time order (`GRULayer` or `ConvolutionStack`), and a dense output head read at
/// every event that has a target (a sigmoid for two classes, else a softmax). One sequence is one
/// example (one user), so clipping bounds a user's whole contribution.
///
/// Wide and deep: with `contextWidth` > 0 the head's input at each event is the encoder's output there
/// followed by the sequence's context (`SequenceDataset.context`, the same at every event), so the
/// head's weights for the context are part of every example's gradient like the rest.
///
/// Event path (`headReadsEvents`): the head's input at each event also holds that event's embedded row
/// (between the encoder's output and the context), so a target can be read off the current event's
/// item directly — the first-order transition's signal — besides through the encoder. The embedding's
/// output delta is then the sum of what comes back through the encoder and through the head, and its
/// per-example norm is over that sum (exact as before).
///
/// Repeat path (`repeatField`; RepeatNet's repeat mode): where the classes are the tokens of one field
/// (token t ≥ 1 is class t − 1, as `next_item`'s items), the logit of class c at event r also gets
/// w_seen + w_recent · λ^a when c's token is in one of the sequence's events up to r, a the events since
/// the latest (λ = `repeatDecay`; nothing when it is in none). The two weights are shared by every class,
/// so a user's own items can rise above the rest at a cost of two parameters whatever the vocabulary.
/// Its inputs are tokens, so it sends nothing back; its per-example gradient is two sums over the
/// example's (event, seen class) pairs, and their squares are its exact share of the norm.
///
/// Loss of sequence e: the mean over its targeted events of the head's log loss (a sequence without
/// targets contributes nothing). Parameters, one flat vector: the embedding tables, the encoder's, then
/// the head's (`(encoder width + event width + context width) × outputs` input-major, then the biases),
/// then the repeat path's two weights (w_seen, w_recent) when it has one.
///
/// Its per-example norm is the sum of its three layers' exact norms (the head's over its whole input,
/// context included) and the repeat path's. It computes in its encoder's
/// precision (`Double` for the exactness tests and the trained artifacts, `Float` for speed); the master
/// parameters stay `Double` in the trainers. `SequenceModels` builds the public ones; `SequenceNetwork`
/// is the public face of the trained ones (architecture, artifact, training, prediction).
///
/// The trainers reach it through its generic conformance, from other modules, so its entry points are
/// specialised (`@_specialize`) for the encoders `SequenceModels` builds: without that every layer's
/// arithmetic would run through generic witness calls.
struct SequenceModel<Encoder: Layer & Sendable>: TrainableModel
where Encoder.Scalar: ComputeScalar, Encoder.Input == RowBuffer<Encoder.Scalar> {
    typealias Scalar = Encoder.Scalar

    let embedding: EmbeddingLayer<Scalar>
    let encoder: Encoder
    let head: DenseLayer<Scalar>
    /// 2 for a binary task (one sigmoid output), else the softmax's classes.
    let classCount: Int
    /// Columns of each event's embedded row the head reads after the encoder's output: the embedding's
    /// width when the head reads events, else 0.
    let eventWidth: Int
    /// Context values per sequence the head reads after the encoder's output and the event (0: none).
    let contextWidth: Int
    /// The token field whose token t ≥ 1 is class t − 1, for the repeat path; nil: no repeat path.
    let repeatField: Int?
    /// Where the repeat path's weights start (after the head).
    var repeatOffset: Int { head.parameterOffset + head.parameterCount }
    var parameters: [Double]

    /// λ, the repeat path's decay per event since a class's latest event.
    static var repeatDecay: Double { 0.9 }
    /// The repeat path's weights: w_seen and w_recent (`SequenceArchitecture.repeatWeights`).
    static var repeatWeights: Int { SequenceArchitecture.repeatWeights }

    var chunkSize: Int { 16 }

    /// `makeEncoder(inputs, parameterOffset)` builds the encoder over the embedding's `embeddingWidth`
    /// columns at the given offset; `headReadsEvents` adds the event path, `repeatField` the repeat path
    /// over that field's tokens (tokens past the classes are no class). Parameters are drawn uniformly
    /// from ±`scale` by `generator`.
    init(
        tokenCounts: [Int], embeddingWidth: Int, classCount: Int, contextWidth: Int = 0, headReadsEvents: Bool = false,
        repeatField: Int? = nil, scale: Double = 0.1, makeEncoder: (_ inputs: Int, _ parameterOffset: Int) -> Encoder,
        using generator: inout some RandomNumberGenerator
    ) {
        embedding = EmbeddingLayer(tokenCounts: tokenCounts, width: embeddingWidth, parameterOffset: 0)
        encoder = makeEncoder(embeddingWidth, embedding.parameterCount)
        eventWidth = headReadsEvents ? embeddingWidth : 0
        head = DenseLayer(
            inputs: encoder.outputWidth + eventWidth + contextWidth, outputs: classCount == 2 ? 1 : classCount,
            activation: .identity, inputActivation: .identity,
            parameterOffset: encoder.parameterOffset + encoder.parameterCount)
        self.classCount = classCount
        self.contextWidth = contextWidth
        precondition(repeatField == nil || classCount > 2, "the repeat path scores a softmax's classes")
        self.repeatField = repeatField
        let count = head.parameterOffset + head.parameterCount + (repeatField == nil ? 0 : Self.repeatWeights)
        parameters = (0..<count).map { _ in Double.random(in: -scale...scale, using: &generator) }
    }

    /// One worker's buffers: the chunk's tokens, each layer's output rows and output deltas, the layers'
    /// memories, the targets, the context and the head's input rows (encoder output and context).
    final class Workspace {
        var tokens: [Int32] = []
        var targets: [Int32] = []
        /// The chunk's context, `contextWidth` values per sequence.
        var context: [Scalar] = []
        var rows = ExampleRows()
        /// The chunk's example weights in the model's precision.
        var chunkWeights: [Scalar] = []
        let embedded: RowBuffer<Scalar>
        let encoded: RowBuffer<Scalar>
        let logits: RowBuffer<Scalar>
        let embeddedDelta: RowBuffer<Scalar>
        let encodedDelta: RowBuffer<Scalar>
        let logitsDelta: RowBuffer<Scalar>
        /// The head's input and its delta when it reads more than the encoder (`joinsRows`; else it
        /// reads `encoded`).
        let joined: RowBuffer<Scalar>
        let joinedDelta: RowBuffer<Scalar>
        let embeddingMemory: EmbeddingLayer<Scalar>.Memory
        let encoderMemory: Encoder.Memory
        let headMemory: DenseLayer<Scalar>.Memory
        /// The repeat path's per-example gradient (`repeatWeights` per loaded example).
        var repeatGradient: [Double] = []
        /// The repeat path's walk: each class's latest position in the sequence (-1: not seen yet), the
        /// classes seen so far, and λ^a by a.
        var latestPosition: [Int32] = []
        var seenClasses: [Int32] = []
        var decay: [Scalar] = []

        init(model: SequenceModel) {
            embedded = RowBuffer(width: model.embedding.outputWidth)
            encoded = RowBuffer(width: model.encoder.outputWidth)
            logits = RowBuffer(width: model.head.outputWidth)
            embeddedDelta = RowBuffer(width: model.embedding.outputWidth)
            encodedDelta = RowBuffer(width: model.encoder.outputWidth)
            logitsDelta = RowBuffer(width: model.head.outputWidth)
            joined = RowBuffer(width: model.joinsRows ? model.head.inputs : 0)
            joinedDelta = RowBuffer(width: model.joinsRows ? model.head.inputs : 0)
            embeddingMemory = model.embedding.makeMemory()
            encoderMemory = model.encoder.makeMemory()
            headMemory = model.head.makeMemory()
        }

        func reserve(rows count: Int) {
            for buffer in [embedded, encoded, logits, embeddedDelta, encodedDelta, logitsDelta, joined, joinedDelta] {
                buffer.reserve(rows: count)
            }
        }
    }

    @_specialize(where Encoder == GRULayer<Float>)
    @_specialize(where Encoder == GRULayer<Double>)
    @_specialize(where Encoder == ConvolutionStack<Float>)
    @_specialize(where Encoder == ConvolutionStack<Double>)
    func makeWorkspace(examples: Int) -> Workspace { Workspace(model: self) }

    func validate(_ data: SequenceDataset) throws {
        guard data.tokenCounts == embedding.tokenCounts else {
            throw VeilError(
                .invalidInput, field: "tokenCounts",
                "the model embeds \(embedding.tokenCounts) tokens per field, the data has \(data.tokenCounts)")
        }
        guard data.classCount == classCount else {
            throw VeilError(
                .invalidInput, field: "targets", "the model predicts \(classCount) classes, the data has \(data.classCount)")
        }
        guard data.contextWidth == contextWidth else {
            throw VeilError(
                .invalidInput, field: "context",
                "the model reads \(contextWidth) context values per sequence, the data has \(data.contextWidth)")
        }
        guard data.exampleCount > 0 else { throw VeilError(.invalidInput, field: "starts", "the data has no sequences") }
    }

    @_specialize(where Encoder == GRULayer<Float>)
    @_specialize(where Encoder == GRULayer<Double>)
    @_specialize(where Encoder == ConvolutionStack<Float>)
    @_specialize(where Encoder == ConvolutionStack<Double>)
    func forwardBackward(
        _ indices: UnsafeBufferPointer<Int>, data: SequenceDataset, parameters: UnsafePointer<Scalar>,
        workspace: Workspace
    ) -> Double {
        load(indices, data: data, workspace: workspace)
        let rows = workspace.rows
        guard rows.rowCount > 0 else { return 0 }
        return workspace.tokens.withUnsafeBufferPointer { tokens in
            let input = TokenRows(base: tokens.baseAddress!, fields: data.fields)
            forward(input, parameters: parameters, workspace: workspace)
            let loss = outputDeltas(workspace)
            backwardThroughHead(parameters: parameters, workspace: workspace)
            encoder.backward(
                workspace.embedded, rows: rows, parameters: parameters, memory: workspace.encoderMemory,
                outputDelta: workspace.encodedDelta, inputDelta: workspace.embeddedDelta)
            addEventPathDelta(workspace)
            embedding.backward(
                input, rows: rows, parameters: parameters, memory: workspace.embeddingMemory,
                outputDelta: workspace.embeddedDelta, inputDelta: nil)
            repeatGradients(input, workspace: workspace)
            return loss
        }
    }

    /// Copies the tokens, targets and context of the sequences at `indices` into the workspace.
    private func load(_ indices: some Collection<Int>, data: SequenceDataset, workspace: Workspace) {
        workspace.tokens.removeAll(keepingCapacity: true)
        workspace.targets.removeAll(keepingCapacity: true)
        workspace.context.removeAll(keepingCapacity: true)
        for index in indices {
            let events = data.events(of: index)
            workspace.tokens += data.tokens[(events.lowerBound * data.fields)..<(events.upperBound * data.fields)]
            workspace.targets += data.targets[events]
            workspace.context += data.context[data.contextRange(of: index)].lazy.map { Scalar($0) }
        }
        workspace.rows.setLengths(indices.lazy.map { data.events(of: $0).count })
        workspace.reserve(rows: workspace.rows.rowCount)
        // Zero until `repeatGradients` (a chunk of empty sequences has no backward pass).
        workspace.repeatGradient.removeAll(keepingCapacity: true)
        if repeatField != nil {
            workspace.repeatGradient.append(contentsOf: repeatElement(0, count: Self.repeatWeights * workspace.rows.count))
        }
    }

    /// Embedding, encoder and head over the loaded rows; the logits end in `workspace.logits`.
    private func forward(_ input: TokenRows, parameters: UnsafePointer<Scalar>, workspace: Workspace) {
        let rows = workspace.rows
        embedding.forward(
            input, rows: rows, parameters: parameters, memory: workspace.embeddingMemory, output: workspace.embedded)
        encoder.forward(
            workspace.embedded, rows: rows, parameters: parameters, memory: workspace.encoderMemory,
            output: workspace.encoded)
        joinRows(workspace)
        head.forward(
            headInput(workspace), rows: rows, parameters: parameters, memory: workspace.headMemory,
            output: workspace.logits)
        addRepeatScores(input, parameters: parameters, workspace: workspace)
    }

    /// Visits every (event, seen class) pair of loaded sequence `example` in order: the event's row, the
    /// class, and λ^a for the events since the class's latest (the event itself counts as seen).
    @inline(__always)
    private func walkRepeats(
        _ input: TokenRows, field: Int, example: Int, workspace: Workspace,
        _ visit: (_ row: Int, _ class: Int, _ decay: Scalar) -> Void
    ) {
        let span = workspace.rows[example]
        if workspace.latestPosition.count < classCount { workspace.latestPosition = Array(repeating: -1, count: classCount) }
        while workspace.decay.count < span.count {
            workspace.decay.append(Scalar((0..<workspace.decay.count).reduce(1.0) { power, _ in power * Self.repeatDecay }))
        }
        workspace.seenClasses.removeAll(keepingCapacity: true)
        for (position, row) in span.enumerated() {
            let token = input.token(row: row, field: field)
            if token >= 1 && token <= classCount {
                if workspace.latestPosition[token - 1] < 0 { workspace.seenClasses.append(Int32(token - 1)) }
                workspace.latestPosition[token - 1] = Int32(position)
            }
            for seen in workspace.seenClasses {
                visit(row, Int(seen), workspace.decay[position - Int(workspace.latestPosition[Int(seen)])])
            }
        }
        for seen in workspace.seenClasses { workspace.latestPosition[Int(seen)] = -1 }
    }

    /// The repeat path's scores added to the loaded rows' logits.
    private func addRepeatScores(_ input: TokenRows, parameters: UnsafePointer<Scalar>, workspace: Workspace) {
        guard let field = repeatField else { return }
        let seenWeight = parameters[repeatOffset]
        let recentWeight = parameters[repeatOffset + 1]
        for example in 0..<workspace.rows.count {
            walkRepeats(input, field: field, example: example, workspace: workspace) { row, seen, decay in
                workspace.logits.row(row)[seen] += seenWeight + recentWeight * decay
            }
        }
    }

    /// Each loaded example's gradient of the repeat path's weights, from the logits' deltas.
    private func repeatGradients(_ input: TokenRows, workspace: Workspace) {
        guard let field = repeatField else { return }
        for example in 0..<workspace.rows.count {
            var gradient = (seen: 0.0, recent: 0.0)
            walkRepeats(input, field: field, example: example, workspace: workspace) { row, seen, decay in
                let delta = Double(workspace.logitsDelta.row(row)[seen])
                gradient.seen += delta
                gradient.recent += delta * Double(decay)
            }
            workspace.repeatGradient[Self.repeatWeights * example] = gradient.seen
            workspace.repeatGradient[Self.repeatWeights * example + 1] = gradient.recent
        }
    }

    /// The repeat path's squared gradient norm for loaded example `example` (0 without the path).
    private func repeatSquaredNorm(example: Int, workspace: Workspace) -> Double {
        guard repeatField != nil else { return 0 }
        let first = Self.repeatWeights * example
        return workspace.repeatGradient[first..<(first + Self.repeatWeights)].reduce(0) { $0 + $1 * $1 }
    }

    /// Whether the head reads more than the encoder's rows (the event path or context).
    var joinsRows: Bool { eventWidth + contextWidth > 0 }

    /// What the head reads: the encoder's rows, or the joined rows (`joinRows`).
    private func headInput(_ workspace: Workspace) -> RowBuffer<Scalar> {
        joinsRows ? workspace.joined : workspace.encoded
    }

    /// When the head reads more than the encoder, writes each row's head input: the encoder's output at
    /// that event, the event's embedded row (event path), then its sequence's context.
    private func joinRows(_ workspace: Workspace) {
        guard joinsRows else { return }
        let rows = workspace.rows
        let width = encoder.outputWidth
        workspace.context.withUnsafeBufferPointer { context in
            for example in 0..<rows.count {
                let values = contextWidth > 0 ? context.baseAddress! + example * contextWidth : nil
                for row in rows[example] {
                    let joined = workspace.joined.row(row)
                    joined.update(from: workspace.encoded.row(row), count: width)
                    if eventWidth > 0 { (joined + width).update(from: workspace.embedded.row(row), count: eventWidth) }
                    if let values { (joined + width + eventWidth).update(from: values, count: contextWidth) }
                }
            }
        }
    }

    /// The head's backward pass, leaving dLoss/d(encoder output) in `encodedDelta`; the event path's part
    /// of the head's input delta stays in `joinedDelta` for `addEventPathDelta` (the context is input, so
    /// its part is dropped).
    private func backwardThroughHead(parameters: UnsafePointer<Scalar>, workspace: Workspace) {
        let rows = workspace.rows
        guard joinsRows else {
            head.backward(
                workspace.encoded, rows: rows, parameters: parameters, memory: workspace.headMemory,
                outputDelta: workspace.logitsDelta, inputDelta: workspace.encodedDelta)
            return
        }
        head.backward(
            workspace.joined, rows: rows, parameters: parameters, memory: workspace.headMemory,
            outputDelta: workspace.logitsDelta, inputDelta: workspace.joinedDelta)
        for row in 0..<rows.rowCount {
            workspace.encodedDelta.row(row).update(from: workspace.joinedDelta.row(row), count: encoder.outputWidth)
        }
    }

    /// With the event path, adds the head's delta for each event's embedded row to what the encoder's
    /// backward pass wrote to `embeddedDelta`, so the embedding sees dLoss/d(its output) through both.
    private func addEventPathDelta(_ workspace: Workspace) {
        guard eventWidth > 0 else { return }
        let width = encoder.outputWidth
        for row in 0..<workspace.rows.rowCount {
            let target = workspace.embeddedDelta.row(row)
            let source = workspace.joinedDelta.row(row) + width
            for k in 0..<eventWidth { target[k] += source[k] }
        }
    }

    /// The head's probabilities at the last event of every sequence of `data`, in order: one value per
    /// sequence for two classes (P(class 1)), `classCount` per sequence otherwise. Forward passes only.
    /// Throws `VeilError.invalidInput` when `data` does not fit the model or a sequence has no event.
    func lastEventProbabilities(_ data: SequenceDataset) throws -> [Double] {
        try validate(data)
        guard (0..<data.exampleCount).allSatisfy({ !data.events(of: $0).isEmpty }) else {
            throw VeilError(.invalidInput, field: "starts", "every sequence needs at least one event to predict from")
        }
        let outputs = head.outputs
        let workspace = makeWorkspace(examples: chunkSize)
        var result: [Double] = []
        result.reserveCapacity(data.exampleCount * outputs)
        var probabilities = [Scalar](repeating: 0, count: outputs)
        var narrowed = [Scalar](repeating: 0, count: parameters.count)
        parameters.withUnsafeBufferPointer { source in
            narrowed.withUnsafeMutableBufferPointer {
                Scalar.narrow(source.baseAddress!, into: $0.baseAddress!, count: source.count)
            }
        }
        narrowed.withUnsafeBufferPointer { parameters in
            for first in stride(from: 0, to: data.exampleCount, by: chunkSize) {
                load(first..<min(first + chunkSize, data.exampleCount), data: data, workspace: workspace)
                workspace.tokens.withUnsafeBufferPointer { tokens in
                    forward(
                        TokenRows(base: tokens.baseAddress!, fields: data.fields), parameters: parameters.baseAddress!,
                        workspace: workspace)
                }
                let rows = workspace.rows
                for example in 0..<rows.count {
                    let logits = workspace.logits.row(rows[example].upperBound - 1)
                    if outputs == 1 {
                        result.append(Double(OutputHead.sigmoid(logits[0])))
                    } else {
                        probabilities.withUnsafeMutableBufferPointer {
                            OutputHead.softmax(logits: logits, count: outputs, probabilities: $0.baseAddress!)
                        }
                        result += probabilities.lazy.map(Double.init)
                    }
                }
            }
        }
        return result
    }

    @_specialize(where Encoder == GRULayer<Float>)
    @_specialize(where Encoder == GRULayer<Double>)
    @_specialize(where Encoder == ConvolutionStack<Float>)
    @_specialize(where Encoder == ConvolutionStack<Double>)
    func squaredGradientNorm(example: Int, workspace: Workspace) -> Double {
        workspace.tokens.withUnsafeBufferPointer { tokens in
            let rows = workspace.rows
            return embedding.squaredGradientNorm(
                example: example, input: TokenRows(base: tokens.baseAddress!, fields: embedding.tokenCounts.count),
                rows: rows, memory: workspace.embeddingMemory, outputDelta: workspace.embeddedDelta)
                + encoder.squaredGradientNorm(
                    example: example, input: workspace.embedded, rows: rows, memory: workspace.encoderMemory,
                    outputDelta: workspace.encodedDelta)
                + head.squaredGradientNorm(
                    example: example, input: headInput(workspace), rows: rows, memory: workspace.headMemory,
                    outputDelta: workspace.logitsDelta)
                + repeatSquaredNorm(example: example, workspace: workspace)
        }
    }

    @_specialize(where Encoder == GRULayer<Float>)
    @_specialize(where Encoder == GRULayer<Double>)
    @_specialize(where Encoder == ConvolutionStack<Float>)
    @_specialize(where Encoder == ConvolutionStack<Double>)
    func addGradient(example: Int, weight: Double, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>) {
        let weight = Scalar(weight)
        workspace.tokens.withUnsafeBufferPointer { tokens in
            let rows = workspace.rows
            embedding.addGradient(
                example: example, weight: weight,
                input: TokenRows(base: tokens.baseAddress!, fields: embedding.tokenCounts.count), rows: rows,
                memory: workspace.embeddingMemory, outputDelta: workspace.embeddedDelta, into: gradient)
            encoder.addGradient(
                example: example, weight: weight, input: workspace.embedded, rows: rows,
                memory: workspace.encoderMemory, outputDelta: workspace.encodedDelta, into: gradient)
            head.addGradient(
                example: example, weight: weight, input: headInput(workspace), rows: rows, memory: workspace.headMemory,
                outputDelta: workspace.logitsDelta, into: gradient)
        }
        if repeatField != nil {
            for k in 0..<Self.repeatWeights {
                gradient[repeatOffset + k] += weight * Scalar(workspace.repeatGradient[Self.repeatWeights * example + k])
            }
        }
    }

    @_specialize(where Encoder == GRULayer<Float>)
    @_specialize(where Encoder == GRULayer<Double>)
    @_specialize(where Encoder == ConvolutionStack<Float>)
    @_specialize(where Encoder == ConvolutionStack<Double>)
    func addChunkGradient(weights: UnsafePointer<Double>, workspace: Workspace, into gradient: UnsafeMutablePointer<Scalar>) {
        let count = workspace.rows.count
        workspace.chunkWeights.removeAll(keepingCapacity: true)
        for example in 0..<count { workspace.chunkWeights.append(Scalar(weights[example])) }
        workspace.tokens.withUnsafeBufferPointer { tokens in
            workspace.chunkWeights.withUnsafeBufferPointer { chunkWeights in
                let rows = workspace.rows
                let weights = chunkWeights.baseAddress!
                embedding.addChunkGradient(
                    weights: weights, input: TokenRows(base: tokens.baseAddress!, fields: embedding.tokenCounts.count),
                    rows: rows, memory: workspace.embeddingMemory, outputDelta: workspace.embeddedDelta, into: gradient)
                encoder.addChunkGradient(
                    weights: weights, input: workspace.embedded, rows: rows, memory: workspace.encoderMemory,
                    outputDelta: workspace.encodedDelta, into: gradient)
                head.addChunkGradient(
                    weights: weights, input: headInput(workspace), rows: rows, memory: workspace.headMemory,
                    outputDelta: workspace.logitsDelta, into: gradient)
            }
        }
    }

    /// Fills dLoss/dLogit per row (zero where there is no target; 1/targets of the sequence elsewhere)
    /// and returns the chunk's summed loss.
    private func outputDeltas(_ workspace: Workspace) -> Double {
        let outputs = head.outputs
        let rows = workspace.rows
        var total = 0.0
        for example in 0..<rows.count {
            let span = rows[example]
            let targeted = span.reduce(0) { $0 + (workspace.targets[$1] >= 0 ? 1 : 0) }
            let share = targeted > 0 ? 1 / Double(targeted) : 0
            let deltaShare = Scalar(share)
            for row in span {
                let delta = workspace.logitsDelta.row(row)
                let target = Int(workspace.targets[row])
                guard target >= 0 else {
                    delta.update(repeating: 0, count: outputs)
                    continue
                }
                let logits = workspace.logits.row(row)
                if outputs == 1 {
                    let (loss, d) = OutputHead.sigmoidLoss(logit: logits[0], label: target)
                    delta[0] = d * deltaShare
                    total += loss * share
                } else {
                    let loss = OutputHead.softmaxLoss(logits: logits, count: outputs, label: target, delta: delta)
                    for k in 0..<outputs { delta[k] *= deltaShare }
                    total += loss * share
                }
            }
        }
        return total
    }
}
