import Foundation
import Testing
import VeilCore
import VeilLearning
import VeilModels

/// Where a training plan's epochs, batch and learning rate come from when a request gives none: the
/// policy's entry for the task (`training.task_defaults`) where it applies to the model, else the
/// section's defaults.
@Suite struct TrainingDefaultsTests {
    static let latestEvent: Int64 = 1_770_000_000_000
    static let now = Date(timeIntervalSince1970: 1_780_000_000)

    func plan(
        _ task: PredictionTask, model: ModelFamily? = nil, policy: Policy = Policy(), edit: (inout TrainingRequest) -> Void = { _ in }
    ) throws -> TrainingPlan {
        var request = TrainingRequest(task: task, epsilon: 4, model: model ?? (task.definition.needsSequences ? .gru : .logistic))
        edit(&request)
        return try request.validate(policy: policy, latestEventMillis: Self.latestEvent, now: Self.now)
    }

    @Test func aTaskWithoutAnEntryTakesTheSectionsDefaults() throws {
        for task in [PredictionTask.purchase, .churn, .nextCategory] {
            let plan = try plan(task)
            #expect(plan.epochs == 5 && plan.batchSize == 512 && plan.learningRate == 0.02, "\(task)")
        }
    }

    @Test func nextItemOnAGRUTakesItsOwnPlanAndOnACNNTheSections() throws {
        let gru = try plan(.nextItem)
        #expect(gru.epochs == 20 && gru.batchSize == 2048 && gru.learningRate == 0.04)
        let cnn = try plan(.nextItem, model: .cnn)
        #expect(cnn.epochs == 5 && cnn.batchSize == 512 && cnn.learningRate == 0.02)
        let purchase = try plan(.purchase, model: .gru)
        #expect(purchase.epochs == 5 && purchase.batchSize == 512 && purchase.learningRate == 0.02)
    }

    @Test func aRequestsValuesWinOverEveryDefault() throws {
        let plan = try plan(.nextItem) {
            $0.epochs = 3
            $0.batchSize = 100
            $0.learningRate = 0.01
        }
        #expect(plan.epochs == 3 && plan.batchSize == 100 && plan.learningRate == 0.01)
    }

    @Test func anEntrySetsOnlyWhatItGives() throws {
        var policy = Policy()
        policy.training.defaultEpochs = 7
        policy.training.defaultLearningRate = 0.03
        policy.training.taskDefaults = [.churn: .init(batchSize: 1024)]
        for model in ModelFamily.allCases {  // no `models`: every family
            let churn = try plan(.churn, model: model, policy: policy)
            #expect(churn.epochs == 7 && churn.batchSize == 1024 && churn.learningRate == 0.03, "\(model)")
        }
        let nextItem = try plan(.nextItem, policy: policy)  // the map was replaced: no plan of its own
        #expect(nextItem.epochs == 7 && nextItem.batchSize == 512 && nextItem.learningRate == 0.03)
    }

    @Test func aLearningRateAboveTheLimitIsRefused() {
        #expect(throws: VeilError.self) { try plan(.purchase) { $0.learningRate = Policy.Training.maxLearningRate * 1.5 } }
        #expect((try? plan(.purchase) { $0.learningRate = Policy.Training.maxLearningRate }) != nil)
    }
}
