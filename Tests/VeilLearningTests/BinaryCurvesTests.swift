import Foundation
import Testing
@testable import VeilLearning

@Suite struct BinaryCurvesTests {
    typealias Point = BinaryCurves.Point

    /// Scores 0.9 … 0.4 with labels 1 1 0 1 0 0: three positives, three negatives; the curves worked out by hand.
    let handWorked = try! BinaryPredictions(probabilities: [0.9, 0.8, 0.7, 0.6, 0.55, 0.4], labels: [1, 1, 0, 1, 0, 0])

    @Test func rocAndPrecisionRecallByHand() {
        let curves = handWorked.curves()
        let third = 1.0 / 3
        #expect(
            curves.roc == [
                Point(x: 0, y: 0), Point(x: 0, y: third), Point(x: 0, y: 2 * third), Point(x: third, y: 2 * third),
                Point(x: third, y: 1), Point(x: 2 * third, y: 1), Point(x: 1, y: 1),
            ])
        #expect(
            curves.precisionRecall == [
                Point(x: third, y: 1), Point(x: 2 * third, y: 1), Point(x: 2 * third, y: 2 * third), Point(x: 1, y: 0.75),
                Point(x: 1, y: 0.6), Point(x: 1, y: 0.5),
            ])
    }

    @Test func areaUnderTheStoredRocIsTheAUC() throws {
        // The trapezoids under the curve equal the Mann–Whitney AUC, ties included, as long as no point was dropped.
        // 80 scores on 21 levels (many ties), labels from a fixed pattern.
        let scores = (0..<80).map { Double($0 * 37 % 21) / 20 }
        let labels = (0..<80).map { ($0 * 53 % 7) < 3 + $0 % 2 ? 1 : 0 }
        let predictions = try BinaryPredictions(probabilities: scores, labels: labels)
        let roc = predictions.curves().roc
        var area = 0.0
        for (a, b) in zip(roc, roc.dropFirst()) { area += (b.x - a.x) * (a.y + b.y) / 2 }
        #expect(abs(area - (predictions.rocAUC ?? -1)) < 1e-12)
    }

    @Test func calibrationBinsHoldMeansAndCounts() throws {
        let predictions = try BinaryPredictions(probabilities: [0.05, 0.15, 0.12, 0.95, 1.0], labels: [0, 1, 0, 1, 1])
        let bins = predictions.curves().calibration
        #expect(bins.map(\.count) == [1, 2, 2])
        #expect(abs(bins[1].meanPredicted - 0.135) < 1e-12)
        #expect(bins[1].observedRate == 0.5)
        #expect(abs(bins[2].meanPredicted - 0.975) < 1e-12)
        #expect(bins[2].observedRate == 1)
    }

    @Test func longCurvesAreThinnedKeepingBothEnds() throws {
        let scores = (0..<1000).map { Double($0) / 1000 }
        let labels = (0..<1000).map { $0 % 3 == 0 ? 1 : 0 }
        let curves = try BinaryPredictions(probabilities: scores, labels: labels).curves(maxPoints: 101)
        #expect(curves.roc.count <= 101 && curves.roc.count >= 90)
        #expect(curves.roc.first == Point(x: 0, y: 0))
        #expect(curves.roc.last == Point(x: 1, y: 1))
        #expect(curves.precisionRecall.count <= 101)
        #expect(curves.precisionRecall.last?.x == 1)
    }

    @Test func aClassMissingLeavesTheRocEmpty() throws {
        let curves = try BinaryPredictions(probabilities: [0.2, 0.9], labels: [1, 1]).curves()
        #expect(curves.roc.isEmpty)
        #expect(curves.precisionRecall.count == 2)
        #expect(try BinaryPredictions(probabilities: [0.2, 0.9], labels: [0, 0]).curves().precisionRecall.isEmpty)
    }

    @Test func curvesAndTheAUCIntervalMatchScikitLearnAndADirectDeLong() throws {
        typealias Reference = SklearnReference.Binary
        let predictions = try BinaryPredictions(probabilities: Reference.probabilities, labels: Reference.labels)
        let curves = predictions.curves()
        func close(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-12 } }
        #expect(close(curves.roc.map(\.x), Reference.rocFPR))
        #expect(close(curves.roc.map(\.y), Reference.rocTPR))
        // scikit-learn stops at the first threshold of full recall; Veil goes on to the lowest score.
        let prefix = curves.precisionRecall.prefix(Reference.prRecall.count)
        #expect(close(prefix.map(\.x), Reference.prRecall))
        #expect(close(prefix.map(\.y), Reference.prPrecision))
        #expect(curves.precisionRecall.dropFirst(Reference.prRecall.count).allSatisfy { $0.x == 1 })
        #expect(close(curves.calibration.map(\.meanPredicted), Reference.calibrationPredicted))
        #expect(close(curves.calibration.map(\.observedRate), Reference.calibrationObserved))
        let interval = try #require(predictions.rocAUCInterval)
        #expect(abs(interval.lower - Reference.rocAUCLower) < 1e-12)
        #expect(abs(interval.upper - Reference.rocAUCUpper) < 1e-12)
    }

    @Test func aucIntervalNeedsTwoOfEachClass() throws {
        #expect(try BinaryPredictions(probabilities: [0.2, 0.9, 0.4], labels: [1, 1, 0]).rocAUCInterval == nil)
        // Perfect separation: zero spread, the interval collapses onto 1.
        let perfect = try BinaryPredictions(probabilities: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1]).rocAUCInterval
        #expect(perfect == MetricInterval(lower: 1, upper: 1))
    }
}
