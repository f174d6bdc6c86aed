import Foundation
import Testing
import VeilCore
import VeilCrypto
@testable import VeilLearning

@Suite struct TaskTests {
    @Test func tasksAreFoundByNameAndCodedAsTheirName() throws {
        for task in PredictionTask.allCases {
            #expect(PredictionTask(rawValue: task.rawValue) == task)
            let json = try JSONEncoder().encode([task])
            #expect(String(decoding: json, as: UTF8.self) == "[\"\(task.rawValue)\"]")
            #expect(try JSONDecoder().decode([PredictionTask].self, from: json) == [task])
        }
        // Every task's name is a `TaskName` (what a policy may key), in the same order, and every name a task.
        #expect(PredictionTask.allCases.map(\.name) == TaskName.allCases)
        #expect(PredictionTask(rawValue: "lifetime_value") == nil)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([PredictionTask].self, from: Data("[\"x\"]".utf8)) }
    }

    @Test func labellersReadTheOutcome() {
        let bought = Outcome(purchased: true, churned: false, nextCategory: 3)
        let gone = Outcome(purchased: false, churned: true, nextCategory: nil)
        #expect(bought.label(for: .purchase) == 1 && gone.label(for: .purchase) == 0)
        #expect(bought.label(for: .churn) == 0 && gone.label(for: .churn) == 1)
        #expect(bought.label(for: .nextCategory) == 3 && gone.label(for: .nextCategory) == nil)
    }

    @Test func theHeadFollowsTheClasses() {
        let schema = FeatureSchema(policy: Policy())
        #expect(PredictionTask.purchase.definition.head(schema: schema) == .sigmoid)
        #expect(PredictionTask.nextCategory.definition.head(schema: schema) == .softmax(classes: Policy().categories.count))
    }

    /// next_category's two favourite rules read their own columns: a row whose events mostly fall in
    /// one category and whose sessions mostly in another gets the first from `favourite_category` and
    /// the second from `session_favourite_category`; a schema without the session shares (an older
    /// model's) has no such baseline.
    @Test func theFavouriteBySessionsReadsTheSessionShares() throws {
        let schema = FeatureSchema(policy: Policy())
        var row = [Double](repeating: 0, count: schema.features.count)
        row[try #require(schema.names.firstIndex(of: FeatureSchema.categoryShare(schema.categories[1])))] = 0.7
        row[try #require(schema.names.firstIndex(of: FeatureSchema.categoryShare(schema.categories[2])))] = 0.3
        row[try #require(schema.names.firstIndex(of: FeatureSchema.sessionCategoryShare(schema.categories[1])))] = 0.4
        row[try #require(schema.names.firstIndex(of: FeatureSchema.sessionCategoryShare(schema.categories[2])))] = 0.6
        let classes = schema.categories.count
        let data = try LabeledDataset(features: row, featureCount: row.count, labels: [2], classCount: classes)
        let baselines = PredictionTask.nextCategory.definition.baselines(holdout: data, train: data, schema: schema)
        let byEvents = try #require(baselines["favourite_category"])
        let bySessions = try #require(baselines["session_favourite_category"])
        #expect(byEvents.indices.max { byEvents[$0] < byEvents[$1] } == 1)
        #expect(bySessions.indices.max { bySessions[$0] < bySessions[$1] } == 2)
        #expect(abs(bySessions[2] - (0.6 + 1e-6) / (1 + 1e-6 * Double(classes))) < 1e-12)

        var older = schema
        older.features.removeAll { $0.name.hasPrefix("session_share_") }
        let olderRow = Array(row[..<older.features.count])
        let olderData = try LabeledDataset(features: olderRow, featureCount: olderRow.count, labels: [2], classCount: classes)
        #expect(PredictionTask.nextCategory.definition.baselines(holdout: olderData, train: olderData, schema: older)["session_favourite_category"] == nil)
    }

    @Test func baselinesHaveOnePredictionPerRowAndClass() throws {
        let schema = FeatureSchema(policy: Policy())
        let width = schema.features.count
        var generator = ChaChaNoiseGenerator(seed: 3)
        let features = (0..<(10 * width)).map { _ in Double(generator.next() % 1000) / 1000 }
        for task in PredictionTask.allCases where !task.definition.needsSequences {
            let classes = task.definition.classCount(schema: schema)
            let labels = (0..<10).map { $0 % classes }
            let data = try LabeledDataset(features: features, featureCount: width, labels: labels, classCount: classes)
            let baselines = task.definition.baselines(holdout: data, train: data, schema: schema)
            #expect(baselines.count == (task == .nextCategory ? 3 : 2), "\(task)")
            for (name, predictions) in baselines {
                #expect(predictions.count == 10 * (classes == 2 ? 1 : classes), "\(task) \(name)")
                let evaluation = try task.definition.evaluate(probabilities: predictions, labels: labels, classCount: classes)
                #expect((evaluation.binary != nil) == (classes == 2), "\(task) \(name)")
            }
        }
    }
}
