import VeilCore

/// The category of the first purchase in the horizon, among the policy's categories (users without
/// such a purchase have no label). Baselines: `base_rate` (the training split's class frequencies, with
/// add-one smoothing) and `favourite_category` (the user's own category shares, by events).
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
        let shareColumns = schema.categories.map { holdout.column(FeatureSchema.categoryShare($0), schema: schema) }
        var favourite: [Double] = []
        favourite.reserveCapacity(holdout.rowCount * classes)
        for row in 0..<holdout.rowCount {
            let shares = shareColumns.map { $0[row] + 1e-6 }
            let sum = shares.reduce(0, +)
            favourite += shares.map { $0 / sum }
        }
        return ["base_rate": baseRate, "favourite_category": favourite]
    }
}
