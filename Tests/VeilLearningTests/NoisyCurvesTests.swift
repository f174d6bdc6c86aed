import Testing
@testable import VeilLearning

/// The curves drawn from a released holdout histogram, against points worked out by hand.
@Suite struct NoisyCurvesTests {
    /// 20 score bins. Negatives: 5 in bin 2, −2 (noise) in bin 3, 3 in bin 10; positives: −1 (noise) in
    /// bin 10, 4 in bin 15, 2 in bin 19. Clamped: N = 8, P = 6.
    static func histogram() -> HoldoutHistogram {
        var counts = [Int](repeating: 0, count: 40)
        counts[2] = 5
        counts[3] = -2
        counts[10] = 3
        counts[20 + 10] = -1
        counts[20 + 15] = 4
        counts[20 + 19] = 2
        return HoldoutHistogram(layout: .binary(bins: 20), counts: counts)
    }

    @Test func binaryCurvesClampNegativeCountsAndStepAtBinEdges() throws {
        let curves = Self.histogram().noisyCurves
        // From the top: bin 19 (TP 2), bin 15 (TP 6), bin 10 (FP 3; its −1 positive clamped), bin 3
        // (−2 clamped: no step), bin 2 (FP 8).
        let roc = curves.roc.map { [$0.x, $0.y] }
        let expectedROC: [[Double]] = [[0, 0], [0, 2.0 / 6], [0, 1], [3.0 / 8, 1], [1, 1]]
        #expect(roc == expectedROC)
        let pr = curves.precisionRecall.map { [$0.x, $0.y] }
        let expectedPR: [[Double]] = [[2.0 / 6, 1], [1, 1], [1, 6.0 / 9], [1, 6.0 / 14]]
        #expect(pr == expectedPR)
        #expect(curves.positiveRate == 6.0 / 14)
        // Calibration: 10 bins of two score bins each; clamped counts.
        #expect(curves.calibration.count == 10)
        let filled = curves.calibration.filter { $0.examples > 0 }.map { [$0.midpoint, Double($0.examples), $0.observedRate ?? -1] }
        let expectedBins: [[Double]] = [[0.15, 5, 0], [0.55, 3, 0], [0.75, 4, 1], [0.95, 2, 1]]
        #expect(filled.count == expectedBins.count)
        for (bin, expected) in zip(filled, expectedBins) {
            #expect(abs(bin[0] - expected[0]) < 1e-12 && bin[1] == expected[1] && bin[2] == expected[2], "\(bin)")
        }
        #expect(curves.calibration.filter { $0.examples == 0 }.allSatisfy { $0.observedRate == nil })
    }

    @Test func curvesAreMonotoneWhateverTheNoise() {
        var counts = [Int](repeating: 0, count: 40)
        for cell in counts.indices { counts[cell] = (cell * 7919 % 23) - 11 }
        let curves = HoldoutHistogram(layout: .binary(bins: 20), counts: counts).noisyCurves
        #expect(curves.roc.first.map { [$0.x, $0.y] } == [0, 0] && curves.roc.last.map { [$0.x, $0.y] } == [1, 1])
        for (a, b) in zip(curves.roc, curves.roc.dropFirst()) { #expect(a.x <= b.x && a.y <= b.y) }
        for (a, b) in zip(curves.precisionRecall, curves.precisionRecall.dropFirst()) { #expect(a.x <= b.x) }
        #expect(curves.precisionRecall.allSatisfy { (0...1).contains($0.y) })
    }

    @Test func topLabelCalibrationIsTopOneHitsOverExamplesPerConfidenceBin() {
        var counts = [Int](repeating: 0, count: 40)
        // Confidence bin 7 (0.7–0.8): 6 right at rank 0, 2 at rank 1, −3 (noise) at rank 2, 2 lower.
        counts[7 * 4 + 0] = 6
        counts[7 * 4 + 1] = 2
        counts[7 * 4 + 2] = -3
        counts[7 * 4 + 3] = 2
        let curves = HoldoutHistogram(layout: .topLabel(bins: 10), counts: counts).noisyCurves
        #expect(curves.roc.isEmpty && curves.precisionRecall.isEmpty && curves.positiveRate == nil)
        let bin = curves.calibration[7]
        #expect(bin.examples == 10 && bin.hits == 6 && bin.observedRate == 0.6 && abs(bin.midpoint - 0.75) < 1e-12)
        #expect(curves.calibration.count == 10 && curves.calibration.filter { $0.examples > 0 }.count == 1)
    }

    @Test func layoutNamesRoundTrip() {
        for layout in [HoldoutHistogram.Layout.binary(bins: 20), .topLabel(bins: 10)] {
            #expect(HoldoutHistogram.Layout(name: layout.name, bins: layout.bins) == layout)
        }
        #expect(HoldoutHistogram.Layout(name: "binary_score_histogram", bins: 0) == nil)
        #expect(HoldoutHistogram.Layout(name: "other", bins: 10) == nil)
    }
}
