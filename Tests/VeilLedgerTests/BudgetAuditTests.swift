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
        policy.budget.totalEpsilon = PrivacyAccountant.epsilon(
            composing: [training, .pureEpsilon(epsilon: 0.2)], delta: 1e-6, method: AccountingMethod(policy.privacy.accountant)) + 0.01
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
            lines: lines, publicKey: signing.publicKey, checkpoint: nil, recomputeEpsilon: AuditAccountant.recomputation())
        #expect(result.failure == nil)
        #expect(result.epsilon.spendsChecked == 2)

        // An operator who under-reports a spend's cumulative ε is caught by the recomputation,
        // even with a valid signature, because the verifier recomputes rather than trusts.
        let honest = AuditAccountant.recomputation()
        let forged = AuditVerifier.verify(
            lines: lines, publicKey: signing.publicKey, checkpoint: nil,
            recomputeEpsilon: { mechanisms, delta, accountant in honest(mechanisms, delta, accountant).map { $0 * 1.01 } })
        #expect(forged.failure != nil)
    }

    /// The details of each `budget.spend` record of `stores`' chain.
    private static func spendDetails(_ stores: StoreSet) async throws -> [[String: JSONValue]] {
        try await stores.chainBodies().filter { $0.action == AuditAction.budgetSpend.rawValue }.map(\.details)
    }

    private static func verify(_ stores: StoreSet, _ key: SigningKey) async throws -> AuditVerification {
        AuditVerifier.verify(
            lines: try await stores.chainLines(), publicKey: key.publicKey, checkpoint: nil,
            recomputeEpsilon: AuditAccountant.recomputation())
    }

    /// Each spend names its accountant and parameters; a policy that changes accountant charges later
    /// spends with the new one over all spends, and the log still verifies record by record.
    @Test func spendsNameTheirAccountantAndALogThatSwitchesVerifies() async throws {
        let signing = SigningKey.generate()
        let stores = try ScratchStores.open(signingKey: signing)
        var policy = Policy()
        policy.privacy.accountant = .rdp
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let first = try await BudgetService(policy: policy, store: stores.ledger, audit: stores.audit).reserve(
            BudgetRequest(principal: "cli", role: .trainer, purpose: "train purchase", mechanism: training))
        policy.privacy.accountant = .pld
        let pld = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        let second = try await pld.reserve(BudgetRequest(principal: "cli", role: .trainer, purpose: "train churn", mechanism: training))

        let details = try await Self.spendDetails(stores)
        let named = details.map { detail -> String? in
            guard case .object(let accountant)? = detail["accountant"], case .string(let name)? = accountant["accountant"] else { return nil }
            return name
        }
        #expect(named == ["rdp", "pld"])
        guard case .object(let pldParameters)? = details[1]["accountant"] else { Issue.record("no accountant"); return }
        #expect(SpendRecord.number(pldParameters["value_discretization_interval"]) == 1e-4)
        #expect(first.cumulativeEpsilon == RDPAccountant.epsilon(composing: [training], delta: policy.budget.delta).epsilon)
        #expect(second.cumulativeEpsilon == PLDAccountant.epsilon(composing: [training, training], delta: policy.budget.delta))
        #expect(try await pld.status().accountant == AccountingMethod(.pld))
        let result = try await Self.verify(stores, signing)
        #expect(result.failure == nil)
        #expect(result.epsilon.spendsChecked == 2)
    }

    /// Records written before spends named their accountant were computed with RDP and still verify,
    /// recomputed with RDP (the same cumulative ε computed with PLD would not).
    @Test func oldRecordsWithoutAnAccountantVerifyWithRDP() async throws {
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let mechanism = BudgetService.json(training)
        for (method, verifies) in [(AccountingMethod.rdp, true), (AccountingMethod(.pld), false)] {
            let signing = SigningKey.generate()
            let stores = try ScratchStores.open(signingKey: signing)
            for count in 1...2 {
                let cumulative = PrivacyAccountant.epsilon(composing: Array(repeating: training, count: count), delta: 1e-6, method: method)
                try await stores.audit.record(
                    actor: "cli", action: .budgetSpend,
                    details: [
                        "dataset": .string("default"), "principal": .string("cli"), "role": .string("trainer"),
                        "purpose": .string("train"), "mechanism": mechanism, "epsilon": .double(cumulative),
                        "delta": .double(1e-6), "cumulative_epsilon": .double(cumulative),
                    ])
            }
            let result = try await Self.verify(stores, signing)
            #expect((result.failure == nil) == verifies, "\(method)")
        }
    }

    /// A pure ε-DP release is charged at most its ε under PLD (RDP charges ε = 0.01 as 0.0151).
    @Test func pureReleaseIsChargedItsEpsilon() async throws {
        for (kind, low, high) in [(AccountantKind.pld, 0.01 - 3e-6, 0.01), (.rdp, 0.015, 0.0152)] {
            var policy = Policy()
            policy.privacy.accountant = kind
            let stores = try ScratchStores.open()
            let service = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
            let receipt = try await service.reserve(
                BudgetRequest(principal: "cli", role: .analyst, purpose: "count", mechanism: .pureEpsilon(epsilon: 0.01)))
            #expect(receipt.epsilon >= low && receipt.epsilon <= high, "\(kind): \(receipt.epsilon)")
        }
    }
}
