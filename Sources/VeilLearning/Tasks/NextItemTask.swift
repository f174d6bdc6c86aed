import VeilCore

/// The item of the user's next event with an item, over the item vocabulary (`ItemVocabulary`: its
/// items, then one class for "other"). Sequence models only; its quality is ranking quality
/// (`RankingEvaluation`), its baselines popularity and item-to-item transitions.
///
/// Targets, as GRU4Rec and SASRec train: at every event, the item of the next event of the sequence
/// (none when that event has no item); at the last event, the first item after the cutoff
/// (`Outcome.nextItem`), so a user without events after the cutoff still teaches the model. So it reads
/// no context: the cutoff's aggregates would tell the earlier targets about events after them.
struct NextItemTask: TaskDefinition {
    var name: TaskName { .nextItem }
    var needsSequences: Bool { true }
    var readsContext: Bool { false }
    var classesAreItems: Bool { true }
    /// No feature-row model predicts items.
    func classCount(schema: FeatureSchema) -> Int { 0 }
    func classCount(sequences schema: SequenceSchema) -> Int { schema.vocabulary.count + 1 }
    func label(_ outcome: Outcome) -> Int? { nil }

    func baselines(holdout: LabeledDataset, train: LabeledDataset, schema: FeatureSchema) -> [String: [Double]] { [:] }

    func targets(_ example: SequenceExample, schema: SequenceSchema) -> [Int32]? {
        guard example.length > 0 else { return nil }
        let fields = SequenceSchema.Field.allCases.count
        let item = SequenceSchema.Field.item.rawValue
        var targets: [Int32] = []
        targets.reserveCapacity(example.length)
        for position in 1..<example.length {
            // Item tokens are 1 + the vocabulary index (0: no item), so the class is the token − 1.
            targets.append(example.tokens[position * fields + item] - 1)
        }
        targets.append(example.outcome.nextItem.map { Int32(schema.vocabulary.index(of: $0)) } ?? -1)
        return targets
    }
}
