import Foundation
import Testing

/// `veil privacy audit` on the real binary: a seeded audit of a correct run on generated shoppers
/// reports a lower bound at most the claim, names what it ran, writes nothing and spends nothing.
@Suite struct PrivacyAuditCLITests {
    @Test func auditOnGeneratedShoppersStaysBelowTheClaimAndWritesNothing() throws {
        let scratch = try VeilProcess.scratchDirectory()
        let result = try VeilProcess.run(
            ["privacy", "audit", "--task", "purchase", "--epsilon", "2", "--seed", "3", "--users", "700", "--canaries", "300",
             "--json"], in: scratch)
        #expect(result.status == 0, "\(result.stderr)")
        let output = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(output["data"] as? String == "generated")
        #expect(output["spent_epsilon"] as? Double == 0)
        #expect(output["exceeds_claim"] as? Bool == false)
        let report = try #require(output["report"] as? [String: Any])
        let audit = try #require(report["audit"] as? [String: Any])
        let claimed = try #require(report["claimed_epsilon"] as? Double)
        #expect(claimed <= 2 && claimed > 1.9)
        #expect(audit["setting"] as? String == "white_box_dirac_canaries")
        #expect(audit["canaries"] as? Int == 300)
        #expect(audit["guesses"] as? Int == 120)
        #expect(try #require(audit["epsilon_lower_bound"] as? Double) <= claimed)
        // No data directory, keys or ledger: nothing was read from or written to a store.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func badInputNamesTheRule() throws {
        let scratch = try VeilProcess.scratchDirectory()
        let few = try VeilProcess.run(["privacy", "audit", "--task", "purchase", "--epsilon", "2", "--canaries", "5"], in: scratch)
        #expect(few.status != 0)
        #expect(few.stderr.contains("--canaries must be between 100 and 1000000"))
        let delta = try VeilProcess.run(
            ["privacy", "audit", "--task", "churn", "--epsilon", "2", "--delta", "0.5", "--users", "200"], in: scratch)
        #expect(delta.status != 0)
        #expect(delta.stderr.contains("delta"))
    }
}
