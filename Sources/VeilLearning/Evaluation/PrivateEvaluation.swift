import Foundation
import VeilCore
import VeilPrivacy

/// Differentially private holdout metrics: a `HoldoutHistogram` released with discrete Gaussian noise
/// of standard deviation σ on every cell, the metrics computed from the noisy counts, and a 95%
/// interval for each that covers both the sampling of the holdout users and the noise.
///
/// Privacy: one user is one holdout example and so one cell (sensitivity 1), and the other cells do
/// not change, so the release is exactly one discrete Gaussian of σ on a sensitivity-1 count —
/// `PrivacyMechanism.discreteGaussian(sigma: σ, sensitivity: 1, count: 1)` — whatever the number of
/// cells. Everything else here (metrics, intervals) is post-processing of the noisy counts.
///
/// Interval: a parametric bootstrap over the noisy histogram. Each replicate redraws every cell c as
/// c + √max(c, 0)·Z₁ + σ·Z₂ (rounded) — the holdout's sampling (Poissonised, normal approximation) and
/// fresh noise of the same σ, centred on the noisy count so that sums stay unbiased — and recomputes
/// the metrics; the interval is the 2.5th to 97.5th percentile of the replicates. The calibration
/// error, which noise biases upwards, is bias-corrected instead (`biasCorrected`: value 2θ̂ − median,
/// interval [2θ̂ − q₉₇.₅, 2θ̂ − q₂.₅], the basic bootstrap, floored at 0). It is stated for the metric of the binned scores on the population the holdout users
/// are drawn from; its coverage is measured by `PrivateEvaluationTests` (fixed seeds, stated tolerance).
public struct PrivateEvaluation: Sendable, Hashable, Codable {
    /// One private metric: the value from the noisy counts and its 95% interval (nil when the noisy
    /// counts cannot form it, e.g. no positives).
    public struct Estimate: Sendable, Hashable, Codable {
        public var value: Double?
        public var low: Double?
        public var high: Double?
    }

    /// `binary_score_histogram` or `top_label_histogram` (`HoldoutHistogram.Layout.name`).
    public var histogram: String
    /// Equal-width bins of the histogram on [0, 1].
    public var bins: Int
    /// The discrete Gaussian noise's σ on every cell (its variance is at most σ²).
    public var noiseSigma: Double
    /// Bootstrap replicates behind each interval.
    public var replicates: Int
    /// How the intervals were formed.
    public var intervalMethod: String
    /// Metric name → estimate (`HoldoutHistogram.Layout.metricNames`).
    public var metrics: [String: Estimate]
    /// The released histogram itself, one noisy count per cell in `histogram`'s layout: what the
    /// metrics were computed from and what a reader draws the private curves from (`NoisyCurves`),
    /// both post-processing. Nil on cards written before the counts were kept. Stored as
    /// `noisy_counts`, it is rebuilt with `HoldoutHistogram(layout: .init(name: histogram, bins:), …)`.
    public var noisyCounts: [Int]?

    /// Metrics that noise biases (calibration error, an absolute value per bin): their value and
    /// interval are bias-corrected by the basic bootstrap (reflected about the noisy estimate).
    public static let biasCorrected: Set<String> = ["expected_calibration_error"]

    /// Replicates of the parametric bootstrap.
    public static let defaultReplicates = 400

    /// The interval method, as cards state it.
    public static let intervalDescription =
        "parametric bootstrap over the noisy histogram: each cell c redrawn as c + sqrt(max(c, 0))·Z1 + sigma·Z2 (holdout sampling and fresh noise), metrics recomputed, 2.5th–97.5th percentile; expected_calibration_error bias-corrected (basic bootstrap: 2·estimate − percentiles)"

    /// The mechanism that pays for releasing a histogram with noise σ (see the type's privacy note).
    public static func mechanism(sigma: Double) -> PrivacyMechanism {
        .discreteGaussian(sigma: sigma, sensitivity: 1, count: 1)
    }

    /// Releases `histogram` with discrete Gaussian noise of σ = `sigma` on each cell (exact sampler,
    /// from `generator`: the CSPRNG in production) and forms the private metrics and their intervals
    /// (bootstrap draws from the same generator).
    ///
    /// - Throws: `invalidInput` (field `noise_sigma`) when σ is not in (0, 2¹⁸].
    public static func release(
        _ histogram: HoldoutHistogram, sigma: Double, replicates: Int = defaultReplicates,
        using generator: inout some RandomNumberGenerator
    ) throws(VeilError) -> PrivateEvaluation {
        let released = try noisy(histogram, sigma: sigma, using: &generator)
        return evaluate(noisy: released, sigma: sigma, replicates: replicates, using: &generator)
    }

    /// `histogram` with discrete Gaussian noise of σ² = `sigma`² (rounded up to a rational) added to
    /// every cell: the release itself.
    ///
    /// - Throws: `invalidInput` (field `noise_sigma`) when σ is not in (0, 2¹⁸].
    public static func noisy(
        _ histogram: HoldoutHistogram, sigma: Double, using generator: inout some RandomNumberGenerator
    ) throws(VeilError) -> HoldoutHistogram {
        guard sigma > 0 && sigma <= 262_144, let variance = PositiveRational(roundingUp: sigma * sigma) else {
            throw VeilError(.invalidInput, field: "noise_sigma", "must be in (0, 262144]")
        }
        var noisy = histogram
        for cell in noisy.counts.indices {
            noisy.counts[cell] += Int(Noise.discreteGaussian(sigmaSquared: variance, using: &generator))
        }
        return noisy
    }

    /// The private metrics of an already noisy histogram with noise σ (post-processing only).
    public static func evaluate(
        noisy: HoldoutHistogram, sigma: Double, replicates: Int = defaultReplicates,
        using generator: inout some RandomNumberGenerator
    ) -> PrivateEvaluation {
        let names = noisy.layout.metricNames
        let point = noisy.metrics
        var samples = [[Double]](repeating: [], count: names.count)
        var replicate = noisy
        for _ in 0..<replicates {
            for (cell, count) in noisy.counts.enumerated() {
                let sampling = Double(max(count, 0)).squareRoot() * Noise.standardNormal(using: &generator)
                let noise = Noise.gaussian(sigma: sigma, using: &generator)
                replicate.counts[cell] = count + Int((sampling + noise).rounded())
            }
            for (index, value) in replicate.metrics.enumerated() {
                if let value { samples[index].append(value) }
            }
        }
        var metrics: [String: Estimate] = [:]
        for (index, name) in names.enumerated() {
            let sorted = samples[index].sorted()
            // An interval only when (almost) every replicate could form the metric.
            guard let value = point[index], sorted.count >= replicates * 95 / 100, !sorted.isEmpty else {
                metrics[name] = Estimate(value: point[index], low: nil, high: nil)
                continue
            }
            let (lower, upper) = (percentile(sorted, 0.025), percentile(sorted, 0.975))
            if biasCorrected.contains(name) {
                // Noise inflates |hits − n·midpoint|, and a replicate's extra noise inflates it about as
                // much again: reflect the replicates about the estimate (the basic bootstrap).
                let median = percentile(sorted, 0.5)
                metrics[name] = Estimate(
                    value: max(0, 2 * value - median), low: max(0, 2 * value - upper), high: max(0, 2 * value - lower))
            } else {
                metrics[name] = Estimate(value: value, low: lower, high: upper)
            }
        }
        return PrivateEvaluation(
            histogram: noisy.layout.name, bins: noisy.layout.bins, noiseSigma: sigma, replicates: replicates,
            intervalMethod: intervalDescription, metrics: metrics, noisyCounts: noisy.counts)
    }

    /// The `fraction` quantile of sorted values, linearly interpolated.
    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        let position = fraction * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
    }
}
