import VeilCore

/// Any purchase in the horizon (label 1), against none (0). Baselines: `base_rate` (the training split's
/// purchase rate for everyone) and `recency` (the more recent the last purchase, the likelier another).
struct PurchaseTask: TaskDefinition {
    var name: TaskName { .purchase }
    func classCount(schema: FeatureSchema) -> Int { 2 }
    func classCount(sequences schema: SequenceSchema) -> Int { 2 }
    func label(_ outcome: Outcome) -> Int? { outcome.purchased ? 1 : 0 }

    func baselines(holdout: LabeledDataset, train: LabeledDataset, schema: FeatureSchema) -> [String: [Double]] {
        [
            "base_rate": holdout.labels.map { _ in train.positiveRate },
            "recency": holdout.column("days_since_last_purchase", schema: schema).map { 1 - $0 },
        ]
    }
}

/// No event at all in the horizon (label 1), against any (0). Baselines: `base_rate` and `recency` (the
/// longer since the last event, the likelier the user stays away).
struct ChurnTask: TaskDefinition {
    var name: TaskName { .churn }
    func classCount(schema: FeatureSchema) -> Int { 2 }
    func classCount(sequences schema: SequenceSchema) -> Int { 2 }
    func label(_ outcome: Outcome) -> Int? { outcome.churned ? 1 : 0 }

    func baselines(holdout: LabeledDataset, train: LabeledDataset, schema: FeatureSchema) -> [String: [Double]] {
        [
            "base_rate": holdout.labels.map { _ in train.positiveRate },
            "recency": holdout.column("days_since_last_event", schema: schema),
        ]
    }
}
