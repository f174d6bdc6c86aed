import Foundation
import Testing

/// `veil privacy audit` on the real binary: a seeded audit of a correct run on generated shoppers
/// reports a lower bound at most the claim, names what it ran, writes nothing and spends nothing; on
/// stored users (`--stored`) it is a paid run whose spend verifies, refused over the cap.
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

    @Test func auditOnStoredUsersIsAPaidRunThatVerifies() throws {
        let installation = try VeilInstallation(
            policy: "dataset: audit-test\nbudget:\n  total_epsilon: 2.5\n  max_epsilon_per_request: 2.5\ntraining:\n  default_batch_size: 64\n  default_epochs: 2\n")
        let generated = try installation.run(["generate", "--users", "400", "--days", "60", "--seed", "4", "--out", "events.ndjson"])
        try #require(generated.status == 0, "\(generated.stderr)")
        try #require(try installation.run(["ingest", "events.ndjson"]).status == 0)
        let stored = ["privacy", "audit", "--task", "purchase", "--stored", "--canaries", "100", "--seed", "2"]

        // --explain: what it would run and be charged, nothing spent.
        let explained = try #require(try installation.json(stored + ["--epsilon", "2", "--explain"]) as? [String: Any])
        let charged = try #require(explained["charged_epsilon"] as? Double)
        #expect(charged > 0 && charged < 2)
        #expect(((try installation.json(["budget"]) as? [String: Any])?["spends"] as? [Any])?.isEmpty == true)

        let result = try installation.run(stored + ["--epsilon", "2", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let output = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(output["data"] as? String == "stored")
        #expect(output["spent_epsilon"] as? Double == charged)
        let spendID = try #require(output["spend_id"] as? Int)
        let report = try #require(output["report"] as? [String: Any])
        #expect(report["examples"] == nil)
        #expect(report["evaluation_share"] as? Double == 0.05)

        // One spend, named by the privacy.audit record; the chain and the ledger verify.
        let budget = try #require(try installation.json(["budget"]) as? [String: Any])
        #expect((budget["spends"] as? [Any])?.count == 1)
        let verify = try installation.run(["audit", "verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let log = try installation.run(["audit", "log", "--action", "privacy.audit"])
        #expect(log.status == 0 && log.stdout.contains("spend_id=\(spendID)"), "\(log.stdout)")

        // Over the cap (a second run of about 2 composes to more than 2.5): refused, nothing spent.
        let refused = try installation.run(stored + ["--epsilon", "2"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("budget.total_epsilon"), "\(refused.stderr)")
        let after = try #require(try installation.json(["budget"]) as? [String: Any])
        #expect((after["spends"] as? [Any])?.count == 1)
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
        let explain = try VeilProcess.run(["privacy", "audit", "--task", "churn", "--epsilon", "2", "--explain"], in: scratch)
        #expect(explain.status != 0 && explain.stderr.contains("use it with --stored"))
        let users = try VeilProcess.run(["privacy", "audit", "--task", "churn", "--epsilon", "2", "--stored", "--users", "300"], in: scratch)
        #expect(users.status != 0 && users.stderr.contains("--users"))
        let accountant = try VeilProcess.run(
            ["privacy", "audit", "--task", "churn", "--epsilon", "2", "--stored", "--accountant", "rdp"], in: scratch)
        #expect(accountant.status != 0 && accountant.stderr.contains("--accountant cannot be used with --stored"))
    }
}
