import Foundation
import Testing
import VeilCrypto
@testable import VeilLearning

@Suite struct PrivateEvaluationTests {
    /// Scores at the calibration bins' midpoints (0.05, 0.15, …, 0.95) fall in distinct score bins and
    /// sit where the binned calibration puts them, so the histogram's metrics are the exact ones.
    @Test func binaryHistogramMetricsEqualTheExactMetricsOnBinCentres() throws {
        var random = ChaChaNoiseGenerator(seed: 5)
        var probabilities: [Double] = []
        var labels: [Int] = []
        for _ in 0..<2_000 {
            let group = Int.random(in: 0..<10, using: &random)
            let score = (Double(group) + 0.5) / 10
            probabilities.append(score)
            labels.append(Double.random(in: 0..<1, using: &random) < min(0.95, score * 1.2) ? 1 : 0)
        }
        let predictions = try BinaryPredictions(probabilities: probabilities, labels: labels)
        let exact = predictions.evaluate()
        let metrics = HoldoutHistogram(predictions).metrics
        let expected: [Double?] = [
            Double(exact.exampleCount), Double(exact.positiveCount), exact.rocAUC, exact.averagePrecision,
            exact.expectedCalibrationError, exact.atHalf.accuracy, exact.atHalf.precision, exact.atHalf.recall, exact.atHalf.f1,
        ]
        #expect(metrics.count == HoldoutHistogram.Layout.binary(bins: 20).metricNames.count)
        for (name, (actual, reference)) in zip(HoldoutHistogram.Layout.binary(bins: 20).metricNames, zip(metrics, expected)) {
            let (got, want) = (try #require(actual, "\(name)"), try #require(reference, "\(name)"))
            #expect(abs(got - want) <= 1e-12, "\(name): \(got) vs \(want)")
        }
    }

    @Test func topLabelHistogramMetricsEqualTheExactMetricsOnBinCentres() throws {
        var random = ChaChaNoiseGenerator(seed: 6)
        let classCount = 5
        var probabilities: [Double] = []
        var labels: [Int] = []
        for _ in 0..<1_500 {
            // Top confidence at a bin centre in [0.35, 0.95]; the rest split unevenly (no ties).
            let top = (Double(Int.random(in: 3..<10, using: &random)) + 0.5) / 10
            let order = (0..<classCount).shuffled(using: &random)
            var row = [Double](repeating: 0, count: classCount)
            let rest = 1 - top
            let shares = [0.4, 0.3, 0.2, 0.1]
            row[order[0]] = top
            for (index, share) in shares.enumerated() { row[order[index + 1]] = min(rest * share, top * 0.99 - Double(index) * 1e-6) }
            probabilities += row
            let u = Double.random(in: 0..<1, using: &random)
            labels.append(u < top ? order[0] : order[Int.random(in: 1..<classCount, using: &random)])
        }
        let predictions = try MulticlassPredictions(probabilities: probabilities, classCount: classCount, labels: labels)
        let exact = predictions.evaluate()
        let metrics = HoldoutHistogram(predictions).metrics
        let expected = [Double(exact.exampleCount), exact.top1Accuracy, exact.top3Accuracy, exact.expectedCalibrationError]
        for (name, (actual, want)) in zip(HoldoutHistogram.Layout.topLabel(bins: 10).metricNames, zip(metrics, expected)) {
            let got = try #require(actual, "\(name)")
            #expect(abs(got - want) <= 1e-12, "\(name): \(got) vs \(want)")
        }
    }

    /// Recall@K, NDCG@K and MRR@K from the rank cells equal `RankingEvaluation` on the same rankings
    /// (one held-out item per user, some outside the top K); the histogram is exact, not binned.
    @Test func rankingHistogramMetricsEqualTheExactRankingMetrics() throws {
        var random = ChaChaNoiseGenerator(seed: 8)
        let (k, items) = (10, 60)
        var rankings: [[Int]] = []
        var targets: [Int] = []
        var ranks: [Int?] = []
        for _ in 0..<1_200 {
            let ranking = Array((0..<items).shuffled(using: &random).prefix(k))
            let target = Int.random(in: 0..<items, using: &random)
            rankings.append(ranking)
            targets.append(target)
            ranks.append(ranking.firstIndex(of: target).map { $0 + 1 })
        }
        let exact = try RankingEvaluation(rankings: rankings, nextItems: targets, k: k, catalogueSize: items)
        let histogram = HoldoutHistogram(ranks: ranks, k: k)
        #expect(histogram.layout.metricNames == ["example_count", "recall_at_10", "ndcg_at_10", "mrr_at_10"])
        let metrics = histogram.metrics.map { $0 ?? .nan }
        #expect(metrics[0] == 1_200 && exact.recall > 0.1)
        for (got, want) in zip(metrics.dropFirst(), [exact.recall, exact.ndcg, exact.mrr]) {
            #expect(abs(got - want) <= 1e-12, "\(got) vs \(want)")
        }
        #expect(HoldoutHistogram(ranks: [], k: k).metrics.dropFirst().allSatisfy { $0 == nil })
    }

    /// The released counts differ from the exact ones by noise of sd σ (8,000 draws: the sample sd is
    /// within 5% of σ, about six standard errors) with mean 0 (within 4 standard errors).
    @Test func releaseAddsNoiseOfTheStatedSigma() throws {
        let exact = HoldoutHistogram(layout: .binary(bins: 20), counts: (0..<40).map { 50 + $0 })
        var generator = ChaChaNoiseGenerator(seed: 7)
        let sigma = 12.0
        var differences: [Double] = []
        for _ in 0..<200 {
            let noisy = try PrivateEvaluation.noisy(exact, sigma: sigma, using: &generator)
            differences += zip(noisy.counts, exact.counts).map { Double($0 - $1) }
        }
        let mean = differences.reduce(0, +) / Double(differences.count)
        let sd = (differences.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(differences.count - 1)).squareRoot()
        #expect(abs(sd / sigma - 1) < 0.05, "sd \(sd)")
        #expect(abs(mean) < 4 * sigma / Double(differences.count).squareRoot(), "mean \(mean)")
        let evaluation = try PrivateEvaluation.release(exact, sigma: sigma, replicates: 10, using: &generator)
        #expect(evaluation.noiseSigma == sigma && evaluation.histogram == "binary_score_histogram" && evaluation.replicates == 10)
        #expect(Set(evaluation.metrics.keys) == Set(exact.layout.metricNames))
        #expect(throws: (any Error).self) { try PrivateEvaluation.release(exact, sigma: 0, using: &generator) }
    }

    /// Coverage of the 95% intervals, for the binned metric of the population, over 200 holdouts of
    /// 3,000 users drawn from a fixed population, each released with σ = 20 (seeded). Tolerance: each
    /// rate's coverage in [0.90, 0.995] (the binomial sd of 200 trials at 0.95 is 0.015); measured
    /// 0.925–0.97. The calibration error's bias-corrected interval is approximate: measured 0.90 (binary)
    /// and 0.895 (top label), so its bound is [0.85, 0.995] — without the correction it was 0.70 and 0.145.
    @Test func binaryIntervalsCoverSamplingAndNoise() throws {
        let bins = HoldoutHistogram.binaryBins
        // Negatives' scores fall off from 0, positives' rise towards 0.8; 25% positives.
        var weights = [Double](repeating: 0, count: 2 * bins)
        for bin in 0..<bins {
            let centre = (Double(bin) + 0.5) / Double(bins)
            weights[bin] = 0.75 * exp(-centre / 0.2)
            weights[bins + bin] = 0.25 * exp(-pow(centre - 0.6, 2) / 0.05)
        }
        let coverage = try Self.coverage(layout: .binary(bins: bins), weights: weights, users: 3_000, sigma: 20, seed: 11)
        for name in [
            "roc_auc", "average_precision", "accuracy_at_half", "precision_at_half", "recall_at_half", "f1_at_half",
            "expected_calibration_error",
        ] {
            let rate = try #require(coverage[name])
            #expect(rate >= Self.lowestCoverage(name) && rate <= 0.995, "\(name): coverage \(rate)")
        }
    }

    @Test func topLabelIntervalsCoverSamplingAndNoise() throws {
        let bins = HoldoutHistogram.topLabelBins
        var weights = [Double](repeating: 0, count: 4 * bins)
        for bin in 3..<bins {
            let confidence = (Double(bin) + 0.5) / Double(bins)
            let mass = exp(-pow(confidence - 0.6, 2) / 0.04)
            // Slightly over-confident: top-1 right a little less often than the confidence says.
            let hit = confidence * 0.9
            weights[bin * 4] = mass * hit
            weights[bin * 4 + 1] = mass * (1 - hit) * 0.5
            weights[bin * 4 + 2] = mass * (1 - hit) * 0.3
            weights[bin * 4 + 3] = mass * (1 - hit) * 0.2
        }
        let coverage = try Self.coverage(layout: .topLabel(bins: bins), weights: weights, users: 3_000, sigma: 20, seed: 12)
        for name in ["top1_accuracy", "top3_accuracy", "expected_calibration_error"] {
            let rate = try #require(coverage[name])
            #expect(rate >= Self.lowestCoverage(name) && rate <= 0.995, "\(name): coverage \(rate)")
        }
    }

    /// Ranks fall off from 1 with 30% of users outside the top 10 (a next-item model's shape).
    @Test func rankingIntervalsCoverSamplingAndNoise() throws {
        let k = 10
        var weights = (1...k).map { 0.7 * 0.35 * pow(0.65, Double($0 - 1)) / (1 - pow(0.65, Double(k))) }
        weights.append(0.3)
        let coverage = try Self.coverage(layout: .ranking(k: k), weights: weights, users: 3_000, sigma: 20, seed: 13)
        for name in ["recall_at_10", "ndcg_at_10", "mrr_at_10"] {
            let rate = try #require(coverage[name])
            #expect(rate >= Self.lowestCoverage(name) && rate <= 0.995, "\(name): coverage \(rate)")
        }
    }

    /// The lowest coverage accepted for a nominal 95% interval (see the coverage tests).
    static func lowestCoverage(_ name: String) -> Double { name == "expected_calibration_error" ? 0.85 : 0.90 }

    /// Share of trials whose interval holds the population's binned metric.
    static func coverage(
        layout: HoldoutHistogram.Layout, weights: [Double], users: Int, sigma: Double, seed: UInt64, trials: Int = 200
    ) throws -> [String: Double] {
        let total = weights.reduce(0, +)
        let population = HoldoutHistogram(layout: layout, counts: weights.map { Int(($0 / total * 1e9).rounded()) }).metrics
        var cumulative: [Double] = []
        var running = 0.0
        for weight in weights {
            running += weight / total
            cumulative.append(running)
        }
        var generator = ChaChaNoiseGenerator(seed: seed)
        var hits = [String: Int]()
        for _ in 0..<trials {
            var counts = [Int](repeating: 0, count: weights.count)
            for _ in 0..<users {
                let u = Double.random(in: 0..<1, using: &generator)
                counts[min(cumulative.firstIndex { u < $0 } ?? weights.count - 1, weights.count - 1)] += 1
            }
            let evaluation = try PrivateEvaluation.release(
                HoldoutHistogram(layout: layout, counts: counts), sigma: sigma, replicates: 200, using: &generator)
            for (index, name) in layout.metricNames.enumerated() {
                guard let truth = population[index], let estimate = evaluation.metrics[name], let low = estimate.low,
                    let high = estimate.high
                else { continue }
                if low <= truth && truth <= high { hits[name, default: 0] += 1 }
            }
        }
        print("coverage (\(layout)): " + hits.sorted { $0.key < $1.key }.map { "\($0.key) \(Double($0.value) / Double(trials))" }.joined(separator: ", "))
        return hits.mapValues { Double($0) / Double(trials) }
    }
}
