#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The four noise distributions the PLD accountant knows, each with its sensitivity, in the form
/// `AdditiveNoiseLoss` needs (CDFs and the removal privacy loss with its inverse). Formulas as in
/// dp_accounting's `privacy_loss_mechanism.py`; infinite arguments give the limits.
enum PLDNoise {
    /// N(0, σ²) with sensitivity 1 (σ is the noise multiplier).
    struct Gaussian: AdditiveNoise {
        let sigma: Double
        var sensitivity: Double { 1 }

        func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / (sigma * 2.0.squareRoot())) }

        func logCDF(_ x: Double) -> Double { log(0.5) + LogSpace.logErfc(-x / (sigma * 2.0.squareRoot())) }


        /// `(−½ − x)/σ²`.
        func removalLoss(_ x: Double) -> Double { (-0.5 - x) / (sigma * sigma) }

        func inverseRemovalLoss(_ loss: Double) -> Double { -0.5 - loss * sigma * sigma }

        /// The outputs beyond which the PLD is cut: x with `P(noise ≤ x) = ½·e^logMass` and its mirror
        /// (dp_accounting's `log_mass_truncation_bound`), widened by the sensitivity on the side the
        /// adjacency shifts. The cut mass goes to infinite loss.
        func truncation(_ adjacency: Adjacency, logMass: Double) -> (lower: Double, upper: Double) {
            let x = sigma * Self.standardQuantile(logProbability: log(0.5) + logMass)
            switch adjacency {
            case .remove: return (x - 1, -x)
            case .add: return (x, -x + 1)
            }
        }

        /// The standard normal quantile z with `ln Φ(z) = logProbability` (< ln ½), by bisection on
        /// [−40, 0] to the last bit.
        static func standardQuantile(logProbability: Double) -> Double {
            var (low, high) = (-40.0, 0.0)
            while true {
                let middle = (low + high) / 2
                guard middle != low && middle != high else { return high }
                if log(0.5) + LogSpace.logErfc(-middle / 2.0.squareRoot()) < logProbability { low = middle } else { high = middle }
            }
        }
    }

    /// Laplace noise of scale b (density `e^{−|x|/b}/2b`) with sensitivity 1, so ε = 1/b.
    struct Laplace: AdditiveNoise {
        let scale: Double
        var sensitivity: Double { 1 }

        func cdf(_ x: Double) -> Double { x < 0 ? 0.5 * exp(x / scale) : 1 - 0.5 * exp(-x / scale) }

        func logCDF(_ x: Double) -> Double { x < 0 ? log(0.5) + x / scale : log1p(-0.5 * exp(-x / scale)) }

        /// `(|x| − |x + 1|)/b`.
        func removalLoss(_ x: Double) -> Double { (abs(x) - abs(x + 1)) / scale }

        func inverseRemovalLoss(_ loss: Double) -> Double {
            let threshold = loss * scale
            if threshold > 1 { return -.infinity }
            if threshold <= -1 { return .infinity }
            return 0.5 * (-1 - threshold)
        }
    }

    /// Discrete Laplace noise on ℤ, `P(k) ∝ e^{−a|k|}`, with integer sensitivity Δ.
    struct DiscreteLaplace: AdditiveNoise {
        /// a = 1/scale.
        let parameter: Double
        let integerSensitivity: Int
        var sensitivity: Double { Double(integerSensitivity) }

        func cdf(_ x: Double) -> Double {
            if x == .infinity { return 1 }
            if x == -.infinity { return 0 }
            let k = x.rounded(.down)
            return k >= 0 ? 1 - exp(-parameter * (k + 1)) / (1 + exp(-parameter)) : exp(parameter * k) / (1 + exp(-parameter))
        }

        func logCDF(_ x: Double) -> Double {
            if x == .infinity { return 0 }
            if x == -.infinity { return -.infinity }
            let k = x.rounded(.down)
            return k >= 0 ? log1p(-exp(-parameter * (k + 1)) / (1 + exp(-parameter))) : parameter * k - log1p(exp(-parameter))
        }

        /// `a(|x| − |x + Δ|)` at integer x.
        func removalLoss(_ x: Double) -> Double { parameter * (abs(x) - abs(x + sensitivity)) }

        func inverseRemovalLoss(_ loss: Double) -> Double {
            let threshold = loss / parameter
            if threshold > sensitivity { return -.infinity }
            if threshold <= -sensitivity { return .infinity }
            return (0.5 * (-sensitivity - threshold)).rounded(.down)
        }

        /// Privacy buckets for removal (the same as for adding a user): the outputs −Δ+1 … −1 one by one,
        /// the loss `aΔ` for outputs ≤ −Δ and `−aΔ` for outputs ≥ 0 as tails.
        func privacyLoss(interval: Double) -> PrivacyLossPMF {
            let loss = AdditiveNoiseLoss(noise: self, samplingRate: 1, adjacency: .remove)
            let tail = [
                (loss: loss.privacyLoss(-sensitivity), mass: loss.upperCDF(-sensitivity)),
                (loss: loss.privacyLoss(0), mass: 1 - loss.upperCDF(-1)),
            ]
            return loss.privacyBuckets(lowest: 1 - integerSensitivity, highest: -1, tail: tail, interval: interval)
        }
    }

    /// The discrete Gaussian on ℤ, `P(k) ∝ e^{−k²/2σ²}`, with integer sensitivity Δ, analysed (as in
    /// dp_accounting) as truncated to |k| ≤ ⌈11.6σ⌉, which drops less than 1e-30 of its mass
    /// (Canonne, Kamath & Steinke 2020); outputs the shifted distribution reaches beyond the truncation
    /// have infinite loss.
    struct DiscreteGaussian: AdditiveNoise {
        let sigma: Double
        let integerSensitivity: Int
        let truncationBound: Int
        /// `ln P(noise ≤ k)` for k = −T−1 … T at index k + T + 1.
        private let logCDFTable: [Double]
        var sensitivity: Double { Double(integerSensitivity) }

        init(sigma: Double, sensitivity: Int) {
            self.sigma = sigma
            integerSensitivity = sensitivity
            truncationBound = Int((11.6 * sigma).rounded(.up))
            var table = [-Double.infinity]
            table.reserveCapacity(2 * truncationBound + 2)
            for k in -truncationBound...truncationBound {
                table.append(LogSpace.add(table[table.count - 1], -0.5 * Double(k * k) / (sigma * sigma)))
            }
            let total = table[table.count - 1]
            logCDFTable = table.map { $0 - total }
        }

        func cdf(_ x: Double) -> Double { exp(logCDF(x)) }

        func logCDF(_ x: Double) -> Double {
            let clipped = min(max(x, Double(-truncationBound - 1)), Double(truncationBound))
            return logCDFTable[Int(clipped.rounded(.down)) + truncationBound + 1]
        }

        func removalLoss(_ x: Double) -> Double {
            if x > Double(truncationBound) - sensitivity { return -.infinity }
            if x < Double(-truncationBound) { return .infinity }
            return sensitivity * (-0.5 * sensitivity - x) / (sigma * sigma)
        }

        func inverseRemovalLoss(_ loss: Double) -> Double {
            if loss == -.infinity { return Double(truncationBound) - sensitivity }
            let x = -0.5 * sensitivity - loss * sigma * sigma / sensitivity
            return min(max(x, Double(-truncationBound - 1)), Double(truncationBound) - sensitivity).rounded(.down)
        }

        /// Privacy buckets for removal (the same as for adding a user): outputs −T … T−Δ one by one,
        /// and the outputs below −T, which only the shifted distribution reaches, as infinite loss.
        func privacyLoss(interval: Double) -> PrivacyLossPMF {
            let loss = AdditiveNoiseLoss(noise: self, samplingRate: 1, adjacency: .remove)
            let tail = [(loss: Double.infinity, mass: loss.upperCDF(Double(-truncationBound - 1)))]
            return loss.privacyBuckets(
                lowest: -truncationBound, highest: truncationBound - integerSensitivity, tail: tail, interval: interval)
        }
    }
}
