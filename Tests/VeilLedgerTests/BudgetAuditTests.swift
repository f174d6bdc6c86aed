import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

/// The ledger and the signed audit chain together: every spend and refusal is recorded, each spend in
/// its own transaction with its row, and an auditor holding only the public key recomputes the
/// cumulative ε from the spend records.
@Suite struct BudgetAuditTests {
    @Test func spendsAndRefusalsAreAuditedAndRecomputable() async throws {
        let signing = SigningKey.generate()
        let stores = try ScratchStores.open(signingKey: signing)
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        var policy = Policy()
        // A cap that affords exactly the first two releases (computed with the accountant, since
        // composition is sublinear).
        policy.budget.totalEpsilon = RDPAccountant.epsilon(composing: [training, .pureEpsilon(epsilon: 0.2)], delta: 1e-6).epsilon + 0.01
        let service = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        let first = try await service.reserve(BudgetRequest(principal: "trainer-1", role: .trainer, purpose: "train purchase", mechanism: training))
        try await service.reserve(BudgetRequest(principal: "analyst-1", role: .analyst, purpose: "query", mechanism: .pureEpsilon(epsilon: 0.2)))
        await #expect(throws: VeilError.self) {
            try await service.reserve(BudgetRequest(principal: "trainer-1", role: .trainer, purpose: "train churn", mechanism: training))
        }

        let lines = try await stores.chainLines()
        #expect(try await stores.chainActions() == ["budget.spend", "budget.spend", "budget.refuse"])
        // Each spend's record names its ledger row, and the row its record.
        let spends = try await stores.ledger.allSpends()
        #expect(spends.map(\.auditSeq) == [1, 2])
        #expect(lines[0].contains(#"\"spend_id\":\#(first.spendID)"#))
        let result = AuditVerifier.verify(
            lines: lines, publicKey: signing.publicKey, checkpoint: nil, recomputeEpsilon: AuditAccountant.epsilon)
        #expect(result.failure == nil)
        #expect(result.epsilon.spendsChecked == 2)

        // An operator who under-reports a spend's cumulative ε is caught by the recomputation,
        // even with a valid signature, because the verifier recomputes rather than trusts.
        let forged = AuditVerifier.verify(
            lines: lines, publicKey: signing.publicKey, checkpoint: nil,
            recomputeEpsilon: { mechanisms, delta in AuditAccountant.epsilon(of: mechanisms, delta: delta).map { $0 * 1.01 } })
        #expect(forged.failure != nil)
    }
}
