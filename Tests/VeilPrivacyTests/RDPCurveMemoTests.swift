import Testing
import VeilPrivacy

/// `PrivacyMechanism.rdp(orders:)` remembers curves at the default orders; what it returns must be the
/// computation's own bits, for every mechanism, however the calls interleave.
@Suite struct RDPCurveMemoTests {
    static let mechanisms: [PrivacyMechanism] = [
        .pureEpsilon(epsilon: 1e-4), .pureEpsilon(epsilon: 0.5), .laplace(epsilon: 0.5, count: 3),
        .gaussian(noiseMultiplier: 1.1, count: 2), .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.0, steps: 1_000),
        .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.0, steps: 1_001), .discreteLaplace(scale: 2, sensitivity: 3, count: 1),
        .discreteGaussian(sigma: 4, sensitivity: 1, count: 5), .thresholded(base: .laplace(epsilon: 0.5, count: 1), delta: 1e-7),
        .composition(parts: [.pureEpsilon(epsilon: 0.25), .subsampledGaussian(samplingRate: 0.02, noiseMultiplier: 0.9, steps: 10)]),
    ]

    /// The default orders and one more: not the default list, so computed afresh every time.
    static let widerOrders = RDPAccountant.defaultOrders + [2_048]

    @Test func rememberedCurvesAreTheComputationsBits() {
        for round in 0..<3 {
            for mechanism in Self.mechanisms.shuffled() {
                let remembered = mechanism.rdp(orders: RDPAccountant.defaultOrders)
                let fresh = Array(mechanism.rdp(orders: Self.widerOrders).prefix(RDPAccountant.defaultOrders.count))
                #expect(remembered.map(\.bitPattern) == fresh.map(\.bitPattern), "\(mechanism.name), round \(round)")
            }
        }
    }

    @Test func anInvalidMechanismIsInfiniteEveryTime() {
        for _ in 0..<2 {
            #expect(PrivacyMechanism.pureEpsilon(epsilon: 0).rdp(orders: RDPAccountant.defaultOrders).allSatisfy { $0 == .infinity })
        }
    }
}
