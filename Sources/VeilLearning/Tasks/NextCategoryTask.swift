/// The category of the first purchase in the horizon, among the policy's categories (users without
/// such a purchase have no label). Baselines: `base_rate` (the training split's class frequencies, with
/// add-one smoothing) and `favourite_category` (the user's own category shares).
struct NextCategoryTask: TaskDefinition {
    var name: String { "next_category" }
    func classCount(schema: FeatureSchema) -> Int { schema.categories.count }
    func classCount(sequences schema: SequenceSchema) -> Int { schema.categories.count }
    func label(_ outcome: Outcome) -> Int? { outcome.nextCategory }

    func baselines(holdout: LabeledDataset, train: LabeledDataset, schema: FeatureSchema) -> [String: [Double]] {
        let classes = holdout.classCount
        var frequencies = [Double](repeating: 1, count: classes)
        for label in train.labels { frequencies[label] += 1 }
        let total = frequencies.reduce(0, +)
        let baseRate = (0..<holdout.rowCount).flatMap { _ in frequencies.map { $0 / total } }
        let shareColumns = schema.categories.map { holdout.column("share_category_\($0)", schema: schema) }
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
