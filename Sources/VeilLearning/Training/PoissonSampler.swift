import Foundation
import VeilPrivacy

/// Poisson subsampling: each of `population` examples joins a batch independently with probability
/// `rate`, so batch sizes vary (mean `rate · population`) and one example's presence is hidden — the
/// sampling the subsampled-Gaussian privacy analysis assumes.
///
/// Implemented by skipping: the gap to the next included index is geometric, drawn as
/// ⌊ln U / ln(1 − rate)⌋ with U uniform in (0, 1]. This has the same distribution as one Bernoulli(rate)
/// coin per example (up to floating-point rounding of the logarithm) and costs O(batch) draws instead of
/// O(population).
struct PoissonSampler {
    let population: Int
    let rate: Double
    private let logComplement: Double

    init(population: Int, rate: Double) {
        precondition(rate > 0 && rate <= 1, "sampling rate must be in (0, 1]")
        self.population = population
        self.rate = rate
        logComplement = log1p(-rate)
    }

    /// Replaces `batch` with the next sample's indices, in increasing order.
    func sample<Generator: RandomNumberGenerator>(into batch: inout [Int], using generator: inout Generator) {
        batch.removeAll(keepingCapacity: true)
        if rate == 1 {
            batch.append(contentsOf: 0..<population)
            return
        }
        var index = -1
        while true {
            let gap = log(Noise.uniformPositiveUnit(using: &generator)) / logComplement
            // Compare as Double first: a tiny rate can produce a gap beyond Int's range.
            guard gap < Double(population - index) else { return }
            index += 1 + Int(gap)
            guard index < population else { return }
            batch.append(index)
        }
    }
}
