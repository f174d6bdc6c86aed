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
        policy.budget.totalEpsilon = PrivacyAccountant.epsilon(
            composing: [training, .pureEpsilon(epsilon: 0.2)], delta: 1e-6, method: AccountingMethod(policy.privacy.accountant)) + 0.01
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

    /// The details of each `budget.spend` record in `directory`'s log.
    private static func spendDetails(_ directory: String) throws -> [[String: Any]] {
        try AuditVerifier.lines(of: try AuditLog.contents(path: AuditLog.path(dataDirectory: directory))).compactMap { line in
            let outer = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let body = try #require(JSONSerialization.jsonObject(with: Data((outer["body"] as? String ?? "").utf8)) as? [String: Any])
            return body["action"] as? String == "budget.spend" ? body["details"] as? [String: Any] : nil
        }
    }

    private static func verify(_ directory: String, _ key: SigningKey) throws -> AuditVerification {
        AuditVerifier.verify(
            lines: AuditVerifier.lines(of: try AuditLog.contents(path: AuditLog.path(dataDirectory: directory))),
            publicKey: key.publicKey, checkpoint: nil, recomputeEpsilon: AuditAccountant.recomputation())
    }

    private static func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("veil-budget-audit-\(UUID().uuidString)").path
    }

    /// Each spend names its accountant and parameters; a policy that changes accountant charges later
    /// spends with the new one over all spends, and the log still verifies record by record.
    @Test func spendsNameTheirAccountantAndALogThatSwitchesVerifies() throws {
        let directory = Self.scratch()
        let signing = SigningKey.generate()
        let audit = try AuditLog(dataDirectory: directory, signingKey: signing)
        let store = SQLiteLedgerStore(database: try VeilDatabase(directory: directory))
        var policy = Policy()
        policy.privacy.accountant = .rdp
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let first = try BudgetService(policy: policy, store: store, audit: audit).reserve(
            BudgetRequest(principal: "cli", role: .trainer, purpose: "train purchase", mechanism: training))
        policy.privacy.accountant = .pld
        let pld = BudgetService(policy: policy, store: store, audit: audit)
        let second = try pld.reserve(BudgetRequest(principal: "cli", role: .trainer, purpose: "train churn", mechanism: training))

        let details = try Self.spendDetails(directory)
        let named = details.map { ($0["accountant"] as? [String: Any])?["accountant"] as? String }
        #expect(named == ["rdp", "pld"])
        #expect((details[1]["accountant"] as? [String: Any])?["value_discretization_interval"] as? Double == 1e-4)
        #expect(first.cumulativeEpsilon == RDPAccountant.epsilon(composing: [training], delta: policy.budget.delta).epsilon)
        #expect(second.cumulativeEpsilon == PLDAccountant.epsilon(composing: [training, training], delta: policy.budget.delta))
        #expect(try pld.status().accountant == AccountingMethod(.pld))
        let result = try Self.verify(directory, signing)
        #expect(result.failure == nil)
        #expect(result.epsilon.spendsChecked == 2)
    }

    /// Records written before spends named their accountant were computed with RDP and still verify,
    /// recomputed with RDP (the same cumulative ε computed with PLD would not).
    @Test func oldRecordsWithoutAnAccountantVerifyWithRDP() throws {
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let mechanism = BudgetService.json(training)
        for (method, verifies) in [(AccountingMethod.rdp, true), (AccountingMethod(.pld), false)] {
            let directory = Self.scratch()
            let signing = SigningKey.generate()
            let audit = try AuditLog(dataDirectory: directory, signingKey: signing)
            for count in 1...2 {
                let cumulative = PrivacyAccountant.epsilon(composing: Array(repeating: training, count: count), delta: 1e-6, method: method)
                try audit.record(
                    actor: "cli", action: .budgetSpend,
                    details: [
                        "dataset": .string("default"), "principal": .string("cli"), "role": .string("trainer"),
                        "purpose": .string("train"), "mechanism": mechanism, "epsilon": .double(cumulative),
                        "delta": .double(1e-6), "cumulative_epsilon": .double(cumulative),
                    ])
            }
            let result = try Self.verify(directory, signing)
            #expect((result.failure == nil) == verifies, "\(method)")
        }
    }

    /// A pure ε-DP release is charged at most its ε under PLD (RDP charges ε = 0.01 as 0.0151).
    @Test func pureReleaseIsChargedItsEpsilon() throws {
        for (kind, low, high) in [(AccountantKind.pld, 0.01 - 3e-6, 0.01), (.rdp, 0.015, 0.0152)] {
            var policy = Policy()
            policy.privacy.accountant = kind
            let service = BudgetService(policy: policy, store: SQLiteLedgerStore(database: try VeilDatabase(directory: Self.scratch())), audit: nil)
            let receipt = try service.reserve(
                BudgetRequest(principal: "cli", role: .analyst, purpose: "count", mechanism: .pureEpsilon(epsilon: 0.01)))
            #expect(receipt.epsilon >= low && receipt.epsilon <= high, "\(kind): \(receipt.epsilon)")
        }
    }
}
