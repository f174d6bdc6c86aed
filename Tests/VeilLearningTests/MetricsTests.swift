import Foundation
import Testing
import VeilCore
@testable import VeilLearning

@Suite struct MetricsTests {
    func close(_ a: Double?, _ b: Double, tolerance: Double = 1e-12) -> Bool {
        guard let a else { return false }
        return abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func knownRanking() throws {
        // One of the four positive–negative pairs is misordered: AUC = 3/4.
        let predictions = try BinaryPredictions(probabilities: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1])
        #expect(predictions.rocAUC == 0.75)
        // Thresholds 0.8 (P 1, R ½), 0.4 (P ½), 0.35 (P ⅔, R 1): AP = ½·1 + ½·⅔.
        #expect(close(predictions.averagePrecision, 0.5 + 1.0 / 3))
    }

    @Test func tiesCountHalf() throws {
        let allTied = try BinaryPredictions(probabilities: [0.3, 0.3, 0.3, 0.3], labels: [0, 1, 0, 1])
        #expect(allTied.rocAUC == 0.5)
        #expect(allTied.averagePrecision == 0.5)
        // Positive 0.6 ties one negative and beats the other: (1 + ½) / 2.
        let oneTie = try BinaryPredictions(probabilities: [0.6, 0.6, 0.2], labels: [1, 0, 0])
        #expect(oneTie.rocAUC == 0.75)
    }

    @Test func undefinedRankingMetricsAreNil() throws {
        let noNegatives = try BinaryPredictions(probabilities: [0.2, 0.9], labels: [1, 1])
        #expect(noNegatives.rocAUC == nil)
        let noPositives = try BinaryPredictions(probabilities: [0.2, 0.9], labels: [0, 0])
        #expect(noPositives.averagePrecision == nil)
        #expect(noPositives.metrics(atThreshold: 0.5).precision == 0)
        #expect(noPositives.bestF1.f1 == 0)
    }

    @Test func logLossAndThresholdsByHand() throws {
        let predictions = try BinaryPredictions(probabilities: [0.9, 0.2, 0.6, 0.4], labels: [1, 0, 0, 1])
        #expect(close(predictions.logLoss, -(log(0.9) + log(0.8) + log(0.4) + log(0.4)) / 4))
        let half = predictions.metrics(atThreshold: 0.5)  // calls 0.9 and 0.6 positive: TP 1, FP 1, FN 1
        #expect(half.accuracy == 0.5 && half.precision == 0.5 && half.recall == 0.5 && half.f1 == 0.5)
        // At 0.4 everything but 0.2 is positive: TP 2, FP 1, F1 = 4/5, the best available.
        let best = predictions.bestF1
        #expect(best.threshold == 0.4 && close(best.f1, 0.8) && best.recall == 1)
        #expect(try BinaryPredictions(probabilities: [0, 1], labels: [1, 0]).logLoss.isFinite)
    }

    @Test func calibrationErrorByHand() throws {
        let perfectlyCalibrated = try BinaryPredictions(probabilities: [0.5, 0.5], labels: [0, 1])
        #expect(perfectlyCalibrated.expectedCalibrationError() == 0)
        // Bin [0.2, 0.3): mean p 0.225, mean y 0.5 (|Δ| 0.275); last bin holds 0.95 and 1.0, mean p 0.975,
        // mean y 1 (|Δ| 0.025). ECE = (2·0.275 + 2·0.025) / 4.
        let simple = try BinaryPredictions(probabilities: [0.2, 0.25, 0.95, 1.0], labels: [0, 1, 1, 1])
        #expect(close(simple.expectedCalibrationError(), (2 * 0.275 + 2 * 0.025) / 4))
    }

    @Test func topKByHand() throws {
        let predictions = try MulticlassPredictions(
            probabilities: [
                0.5, 0.3, 0.1, 0.1,  // label 0: rank 0
                0.1, 0.2, 0.3, 0.4,  // label 0: rank 3
                0.25, 0.25, 0.25, 0.25,  // label 2: tie, lower indices first → rank 2
            ],
            classCount: 4, labels: [0, 0, 2])
        #expect(predictions.topKAccuracy(1) == 1.0 / 3)
        #expect(predictions.topKAccuracy(3) == 2.0 / 3)
        #expect(predictions.topKAccuracy(4) == 1)
        #expect(close(predictions.crossEntropy, -(log(0.5) + log(0.1) + log(0.25)) / 3))
    }

    @Test func binaryMatchesScikitLearn() throws {
        typealias R = SklearnReference.Binary
        let evaluation = try BinaryPredictions(probabilities: R.probabilities, labels: R.labels).evaluate()
        #expect(close(evaluation.rocAUC, R.rocAUC))
        #expect(close(evaluation.averagePrecision, R.averagePrecision))
        #expect(close(evaluation.logLoss, R.logLoss))
        #expect(close(evaluation.atHalf.accuracy, R.accuracy))
        #expect(close(evaluation.atHalf.precision, R.precision))
        #expect(close(evaluation.atHalf.recall, R.recall))
        #expect(close(evaluation.atHalf.f1, R.f1))
        #expect(evaluation.atBestF1.threshold == R.bestF1Threshold)
        #expect(close(evaluation.atBestF1.f1, R.bestF1))
        #expect(close(evaluation.atBestF1.precision, R.bestF1Precision))
        #expect(close(evaluation.atBestF1.recall, R.bestF1Recall))
        #expect(close(evaluation.expectedCalibrationError, R.ece))
    }

    @Test func multiclassMatchesScikitLearn() throws {
        typealias R = SklearnReference.Multiclass
        let evaluation = try MulticlassPredictions(
            probabilities: R.probabilities, classCount: R.classCount, labels: R.labels
        ).evaluate()
        #expect(close(evaluation.top1Accuracy, R.top1))
        #expect(close(evaluation.top3Accuracy, R.top3))
        #expect(close(evaluation.crossEntropy, R.crossEntropy, tolerance: 1e-9))
        #expect(close(evaluation.expectedCalibrationError, R.ece))
    }

    @Test func badInputIsRejectedByName() {
        #expect { try BinaryPredictions(probabilities: [0.5], labels: [0, 1]) }
            throws: { ($0 as? VeilError)?.field == "probabilities" }
        #expect { try BinaryPredictions(probabilities: [1.5], labels: [0]) }
            throws: { ($0 as? VeilError)?.field == "probabilities" }
        #expect { try BinaryPredictions(probabilities: [0.5], labels: [2]) }
            throws: { ($0 as? VeilError)?.field == "labels" }
        #expect { try MulticlassPredictions(probabilities: [0.5, 0.5], classCount: 2, labels: [3]) }
            throws: { ($0 as? VeilError)?.field == "labels" }
    }
}
