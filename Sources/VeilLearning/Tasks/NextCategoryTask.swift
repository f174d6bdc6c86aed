import VeilCore

/// The category of the first purchase in the horizon, among the policy's categories (users without
/// such a purchase have no label). Baselines: `base_rate` (the training split's class frequencies, with
/// add-one smoothing), `favourite_category` (the user's own category shares, by events) and, for a
/// schema with the session shares, `session_favourite_category` (by visits: the stronger rule, which
/// the head prior starts at — a model should beat it too).
///
/// Its head prior (`headPrior`, asked for with `head_prior`) is the favourite category by sessions: the
/// weight from each category's session share column of the context
/// (`FeatureSchema.sessionCategoryShare`) to that category's logit is `favouritePriorWeight`, the rest of
/// the head zero, so before any step the model ranks categories by the user's own visits, and DP-SGD
/// learns what improves on that. (By sessions rather than by events: a session mostly browses one
/// category, and counting visits instead of clicks predicts the next purchase's category better —
/// `scripts/next_category_check.py`.)
struct NextCategoryTask: TaskDefinition {
    /// The head's starting weight from a category's share (in [0, 1]) to its logit: a share ahead by
    /// 0.2 starts e^(0.2 · 5) ≈ 2.7 times as likely.
    static let favouritePriorWeight = 5.0

    var name: TaskName { .nextCategory }
    func classCount(schema: FeatureSchema) -> Int { schema.categories.count }
    func classCount(sequences schema: SequenceSchema) -> Int { schema.categories.count }
    func label(_ outcome: Outcome) -> Int? { outcome.nextCategory }

    /// The favourite category by sessions, when the context has every category's session share column
    /// (a schema of this build); nil otherwise.
    func headPrior(schema: SequenceSchema) -> HeadPrior? {
        let names = schema.contextNames
        var weights: [HeadPrior.Weight] = []
        for (output, category) in schema.categories.enumerated() {
            guard let column = names.firstIndex(of: FeatureSchema.sessionCategoryShare(category)) else { return nil }
            weights.append(HeadPrior.Weight(contextColumn: column, output: output, value: Self.favouritePriorWeight))
        }
        return HeadPrior(name: "session_favourite_category", weights: weights)
    }

    func baselines(holdout: LabeledDataset, train: LabeledDataset, schema: FeatureSchema) -> [String: [Double]] {
        let classes = holdout.classCount
        var frequencies = [Double](repeating: 1, count: classes)
        for label in train.labels { frequencies[label] += 1 }
        let total = frequencies.reduce(0, +)
        let baseRate = (0..<holdout.rowCount).flatMap { _ in frequencies.map { $0 / total } }
        var baselines = ["base_rate": baseRate, "favourite_category": Self.shares(FeatureSchema.categoryShare, of: holdout, schema: schema)]
        let names = Set(schema.names)
        if schema.categories.allSatisfy({ names.contains(FeatureSchema.sessionCategoryShare($0)) }) {
            baselines["session_favourite_category"] = Self.shares(FeatureSchema.sessionCategoryShare, of: holdout, schema: schema)
        }
        return baselines
    }

    /// Each holdout row's category shares from the column `column` names for each category, as class
    /// probabilities (a share of 0 everywhere gives every class the same).
    private static func shares(_ column: (String) -> String, of holdout: LabeledDataset, schema: FeatureSchema) -> [Double] {
        let columns = schema.categories.map { holdout.column(column($0), schema: schema) }
        var probabilities: [Double] = []
        probabilities.reserveCapacity(holdout.rowCount * columns.count)
        for row in 0..<holdout.rowCount {
            let shares = columns.map { $0[row] + 1e-6 }
            let sum = shares.reduce(0, +)
            probabilities += shares.map { $0 / sum }
        }
        return probabilities
    }
}
