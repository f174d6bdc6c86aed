import Foundation
import Testing
import VeilCore
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

/// The ledger remembers the running composition of its spends (`SpendComposer`), but only of spends
/// the store committed: the decision a `LedgerStore` runs may be refused, fail or be retried, and none
/// of that may leave the remembered composition ahead of the store.
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

    /// After two spends and a refusal (the decision threw inside the store's transaction), every list
    /// the ledger remembers is the store's spends or a part of them; the refused release is in none.
    /// (Before, the decision remembered the spends plus the request it was deciding on.)
    @Test func aRefusedReservationLeavesTheCompositionNoFurtherThanTheStore() async throws {
        let stores = try ScratchStores.open()
        var policy = Policy()
        policy.budget.totalEpsilon = PrivacyAccountant.epsilon(composing: [Self.training, Self.training], delta: 1e-6, method: Self.method) + 0.01
        policy.budget.maxEpsilonPerRequest = policy.budget.totalEpsilon
        let service = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        for purpose in ["train purchase", "train churn", "train again"] {
            _ = try? await service.reserve(BudgetRequest(principal: "cli", role: .trainer, purpose: purpose, mechanism: Self.training))
        }
        let stored = try await stores.ledger.spends(dataset: policy.dataset).map { try BudgetService.decode($0.mechanism) }
        #expect(stored == [Self.training, Self.training])
        let remembered = service.composer.rememberedLists(method: Self.method)
        #expect(!remembered.isEmpty)
        for list in remembered {
            // The dataset's spends, or a role's or principal's (here all of them).
            #expect(stored.starts(with: list), "remembered \(list.count) spends, the store holds \(stored.count)")
        }
    }
}
