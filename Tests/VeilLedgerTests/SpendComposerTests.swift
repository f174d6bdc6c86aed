import Foundation
import Testing
import VeilCore
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

/// `SpendComposer` remembers the running composition of the lists it is given as committed, never a
/// candidate, and never composes a list from a remembered one it does not extend.
@Suite struct SpendComposerTests {
    private static let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
    private static let method = AccountingMethod(.pld)

    /// Composing committed spends then a candidate gives, bit for bit, the accountant's answer for the
    /// whole list, and remembers the committed spends only.
    @Test func aCandidateIsComposedButNotRemembered() {
        let composer = SpendComposer()
        let committed = [Self.training, .pureEpsilon(epsilon: 0.2)]
        let candidate = PrivacyMechanism.laplace(epsilon: 0.5, count: 1)
        let epsilon = composer.epsilon(composing: committed, then: [candidate], delta: 1e-6, method: Self.method)
        #expect(epsilon == PrivacyAccountant.epsilon(composing: committed + [candidate], delta: 1e-6, method: Self.method))
        #expect(composer.rememberedLists(method: Self.method) == [committed])
        // Again from the remembered prefix: the same bits.
        #expect(composer.epsilon(composing: committed, then: [candidate], delta: 1e-6, method: Self.method) == epsilon)
    }

    /// A store holding fewer spends than a remembered list (a restored database) is composed from the
    /// longest remembered list it extends, never from the longer one.
    @Test func aShorterLedgerIsNotComposedFromALongerRememberedOne() {
        let composer = SpendComposer()
        let long = [Self.training, Self.training, .pureEpsilon(epsilon: 0.2)]
        _ = composer.epsilon(composing: long, delta: 1e-6, method: Self.method)
        let short = Array(long.prefix(2))
        #expect(
            composer.epsilon(composing: short, delta: 1e-6, method: Self.method)
                == PrivacyAccountant.epsilon(composing: short, delta: 1e-6, method: Self.method))
    }
}
