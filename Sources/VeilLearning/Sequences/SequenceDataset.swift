import VeilCore

/// Event sequences with a target at some of their positions, for training a sequence model: one
/// sequence per user (so a per-example guarantee is a per-user one).
///
/// `targets` has one entry per event: the class the model should predict from the sequence up to and
/// including that event, or -1 for none. A binary task puts its label (0/1) at the last event; a
/// next-event task puts the next event's class at every event (as GRU4Rec and SASRec train), so users
/// teach the model even without a label after the cutoff. Each sequence's loss is the mean over its
/// targets, so every user weighs the same before clipping.
///
/// `context` holds `contextWidth` values per sequence (`SequenceSchema.context`), which the model's head
/// reads at every event of that sequence beside the encoder's state; width 0 means none.
public struct SequenceDataset: TrainingData, Equatable {
    /// `fields` tokens per event, all sequences one after another.
    public let tokens: [Int32]
    public let fields: Int
    /// Sequence `e`'s events are `starts[e] ..< starts[e + 1]`.
    public let starts: [Int]
    public let targets: [Int32]
    /// Distinct tokens per field (the embedding tables' rows).
    public let tokenCounts: [Int]
    /// 2 for a binary task (a sigmoid output), else the number of classes.
    public let classCount: Int
    /// Sequence `e`'s context is `context[e * contextWidth ..< (e + 1) * contextWidth]`.
    public let context: [Double]
    public let contextWidth: Int

    public var exampleCount: Int { starts.count - 1 }

    /// Throws `VeilError.invalidInput` naming the field when the shapes disagree, a token is outside
    /// its field's range, a target outside `-1 ..< classCount`, or a context value not finite.
    public init(
        tokens: [Int32], tokenCounts: [Int], starts: [Int], targets: [Int32], classCount: Int, context: [Double] = [],
        contextWidth: Int = 0
    ) throws {
        let fields = tokenCounts.count
        guard fields > 0, tokenCounts.allSatisfy({ $0 > 0 }) else {
            throw VeilError(.invalidInput, field: "tokenCounts", "every field needs at least one token")
        }
        guard classCount >= 2 else { throw VeilError(.invalidInput, field: "classCount", "must be at least 2") }
        guard starts.first == 0, zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 }),
            let events = starts.last, tokens.count == events * fields, targets.count == events
        else {
            throw VeilError(
                .invalidInput, field: "starts",
                "must rise from 0 to the number of events, with \(fields) tokens and one target per event")
        }
        for (index, token) in tokens.enumerated() where token < 0 || Int(token) >= tokenCounts[index % fields] {
            throw VeilError(
                .invalidInput, field: "tokens", "field \(index % fields) has \(tokenCounts[index % fields]) tokens; one is out of range")
        }
        guard targets.allSatisfy({ $0 >= -1 && Int($0) < classCount }) else {
            throw VeilError(.invalidInput, field: "targets", "every target must be -1 (none) or in 0..<\(classCount)")
        }
        guard contextWidth >= 0, context.count == (starts.count - 1) * contextWidth else {
            throw VeilError(.invalidInput, field: "context", "needs \(contextWidth) values per sequence")
        }
        guard context.allSatisfy(\.isFinite) else {
            throw VeilError(.invalidInput, field: "context", "every value must be a finite number")
        }
        self.tokens = tokens
        self.fields = fields
        self.starts = starts
        self.targets = targets
        self.tokenCounts = tokenCounts
        self.classCount = classCount
        self.context = context
        self.contextWidth = contextWidth
    }

    /// The sequences of `examples` under `schema`, with `targets(example)` giving each one's targets
    /// (one per event) and their context; examples whose targets are nil are left out. Throws
    /// `VeilError.invalidInput` when an example's context is not the schema's width.
    public init(
        examples: [SequenceExample], schema: SequenceSchema, classCount: Int,
        targets: (SequenceExample) -> [Int32]?
    ) throws {
        var tokens: [Int32] = []
        var starts = [0]
        var allTargets: [Int32] = []
        var context: [Double] = []
        for example in examples {
            guard let found = targets(example) else { continue }
            guard found.count == example.length else {
                throw VeilError(.invalidInput, field: "targets", "need one target per event of a sequence")
            }
            guard example.context.count == schema.contextWidth else {
                throw VeilError(.invalidInput, field: "context", "the schema reads \(schema.contextWidth) values per sequence")
            }
            tokens += example.tokens
            allTargets += found
            context += example.context
            starts.append(allTargets.count)
        }
        try self.init(
            tokens: tokens, tokenCounts: schema.tokenCounts, starts: starts,
            targets: allTargets, classCount: classCount, context: context, contextWidth: schema.contextWidth)
    }

    /// Sequence `example`'s events.
    public func events(of example: Int) -> Range<Int> { starts[example]..<starts[example + 1] }

    /// Sequence `example`'s context values.
    public func contextRange(of example: Int) -> Range<Int> { (example * contextWidth)..<((example + 1) * contextWidth) }
}
