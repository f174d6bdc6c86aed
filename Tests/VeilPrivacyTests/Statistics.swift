import Foundation

/// Goodness-of-fit statistics computed in the tests themselves (no statistics library).
enum Statistics {
    /// The Kolmogorov–Smirnov statistic `D = sup |F_n(x) − F(x)|` of `samples` against `cdf`.
    static func kolmogorovSmirnov(_ samples: [Double], cdf: (Double) -> Double) -> Double {
        let sorted = samples.sorted()
        let n = Double(sorted.count)
        var distance = 0.0
        for (index, x) in sorted.enumerated() {
            let f = cdf(x)
            distance = max(distance, Double(index + 1) / n - f, f - Double(index) / n)
        }
        return distance
    }

    /// The asymptotic KS critical value at significance 0.001: `sqrt(−ln(0.001/2)/2) / √n`
    /// ≈ 1.9495/√n.
    static func kolmogorovSmirnovCritical(count: Int) -> Double {
        (-log(0.0005) / 2).squareRoot() / Double(count).squareRoot()
    }

    /// Pearson's chi-square statistic of integer `samples` against `pmf` on ℤ, and its degrees of
    /// freedom. Bins are the integers around 0 whose expected count is ≥ 5, plus one bin for each
    /// tail (the tail probabilities are what the central bins leave, split by `pmf`'s symmetry).
    static func chiSquare(_ samples: [Int64], pmf: (Int64) -> Double) -> (statistic: Double, degreesOfFreedom: Int) {
        let n = Double(samples.count)
        var limit: Int64 = 0
        while n * pmf(limit + 1) >= 5 { limit += 1 }
        let central = (-limit...limit).map { pmf($0) }
        let tail = max(0, (1 - central.reduce(0, +)) / 2)
        var observed = [Double](repeating: 0, count: central.count + 2)
        for sample in samples {
            if sample < -limit { observed[0] += 1 } else if sample > limit { observed[observed.count - 1] += 1 } else {
                observed[Int(sample + limit) + 1] += 1
            }
        }
        let expected = [tail] + central + [tail]
        var statistic = 0.0
        var bins = 0
        for (o, p) in zip(observed, expected) where n * p > 0 {
            statistic += (o - n * p) * (o - n * p) / (n * p)
            bins += 1
        }
        return (statistic, bins - 1)
    }

    /// The chi-square critical value at significance 0.001 by the Wilson–Hilferty approximation,
    /// `k (1 − 2/(9k) + z √(2/(9k)))³` with z = 3.0902 (the 0.999 normal quantile); within 1% of the
    /// exact value for k ≥ 10.
    static func chiSquareCritical(degreesOfFreedom k: Int) -> Double {
        let k = Double(k)
        let term = 1 - 2 / (9 * k) + 3.0902 * (2 / (9 * k)).squareRoot()
        return k * term * term * term
    }

    /// Sample mean and unbiased sample variance.
    static func meanAndVariance(_ samples: [Double]) -> (mean: Double, variance: Double) {
        let n = Double(samples.count)
        let mean = samples.reduce(0, +) / n
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return (mean, variance)
    }
}
