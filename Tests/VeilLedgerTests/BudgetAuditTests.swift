import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilStore
@testable import VeilLedger

/// The ledger and the signed audit log together: every spend and refusal is recorded, and an auditor
/// holding only the public key recomputes the cumulative ε from the spend records.
@Suite struct BudgetAuditTests {
    @Test func spendsAndRefusalsAreAuditedAndRecomputable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-budget-audit-\(UUID().uuidString)").path
        let signing = SigningKey.generate()
        let audit = try AuditLog(dataDirectory: directory, signingKey: signing)
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        var policy = Policy()
        // A cap that affords exactly the first two releases (computed with the accountant, since
        // composition is sublinear).
        policy.budget.totalEpsilon = RDPAccountant.epsilon(composing: [training, .pureEpsilon(epsilon: 0.2)], delta: 1e-6).epsilon + 0.01
        let service = BudgetService(policy: policy, store: SQLiteLedgerStore(database: try VeilDatabase(directory: directory)), audit: audit)
        try service.reserve(BudgetRequest(principal: "trainer-1", role: .trainer, purpose: "train purchase", mechanism: training))
        try service.reserve(BudgetRequest(principal: "analyst-1", role: .analyst, purpose: "query", mechanism: .pureEpsilon(epsilon: 0.2)))
        #expect(throws: VeilError.self) {
            try service.reserve(BudgetRequest(principal: "trainer-1", role: .trainer, purpose: "train churn", mechanism: training))
        }

        let lines = AuditVerifier.lines(of: try AuditLog.contents(path: AuditLog.path(dataDirectory: directory)))
        let actions = try lines.map { line -> String in
            let outer = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let body = try #require(JSONSerialization.jsonObject(with: Data((outer["body"] as? String ?? "").utf8)) as? [String: Any])
            return body["action"] as? String ?? ""
        }
        #expect(actions == ["budget.spend", "budget.spend", "budget.refuse"])
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
