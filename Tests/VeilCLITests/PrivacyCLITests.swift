import Foundation
import Testing

/// `veil privacy epsilon|noise` on the real binary: the accountant flag, the policy's default, JSON
/// naming the accountant and its parameters, and `--explain`.
@Suite struct PrivacyCLITests {
    static let run = ["--sampling-rate", "0.01", "--steps", "1000", "--delta", "1e-5"]

    static func json(_ result: VeilProcess.Result) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test func epsilonNamesTheAccountantAndItsParameters() throws {
        let scratch = try VeilProcess.scratchDirectory()
        let pld = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--accountant", "pld", "--json"] + Self.run, in: scratch)
        #expect(pld.status == 0, "\(pld.stderr)")
        let pldReport = try Self.json(pld)
        let pldMethod = try #require(pldReport["accountant"] as? [String: Any])
        #expect(pldMethod["accountant"] as? String == "pld")
        #expect(pldMethod["value_discretization_interval"] as? Double == 1e-4)
        #expect(pldMethod["tail_mass_truncation"] as? Double == 1e-15)
        #expect(abs((pldReport["epsilon"] as? Double ?? 0) - 1.828) < 0.001)
        #expect(pldReport["order"] == nil)

        let rdp = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--accountant", "rdp", "--json"] + Self.run, in: scratch)
        let rdpReport = try Self.json(rdp)
        #expect((rdpReport["accountant"] as? [String: Any])?["accountant"] as? String == "rdp")
        #expect(abs((rdpReport["epsilon"] as? Double ?? 0) - 2.10) < 0.01)
        #expect(rdpReport["order"] as? Double != nil)
    }

    @Test func defaultComesFromThePolicy() throws {
        let scratch = try VeilProcess.scratchDirectory()
        // No policy file at the default path: the built-in policy, PLD.
        let builtIn = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--json"] + Self.run, in: scratch)
        #expect(builtIn.status == 0, "\(builtIn.stderr)")
        #expect((try Self.json(builtIn)["accountant"] as? [String: Any])?["accountant"] as? String == "pld")

        try Data("privacy:\n  accountant: rdp\n".utf8).write(to: scratch.appendingPathComponent("rdp.yaml"))
        let fromPolicy = try VeilProcess.run(
            ["privacy", "epsilon", "--noise-multiplier", "1", "--json", "--policy", "rdp.yaml"] + Self.run, in: scratch)
        #expect((try Self.json(fromPolicy)["accountant"] as? [String: Any])?["accountant"] as? String == "rdp")
        let fromEnvironment = try VeilProcess.run(
            ["privacy", "epsilon", "--noise-multiplier", "1", "--json"] + Self.run, in: scratch, environment: ["VEIL_POLICY": "rdp.yaml"])
        #expect((try Self.json(fromEnvironment)["accountant"] as? [String: Any])?["accountant"] as? String == "rdp")
        // The flag wins over the policy.
        let flag = try VeilProcess.run(
            ["privacy", "epsilon", "--noise-multiplier", "1", "--json", "--policy", "rdp.yaml", "--accountant", "pld"] + Self.run,
            in: scratch)
        #expect((try Self.json(flag)["accountant"] as? [String: Any])?["accountant"] as? String == "pld")

        // A policy named explicitly must exist and be valid.
        let missing = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--policy", "nope.yaml"] + Self.run, in: scratch)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("nope.yaml"))
        try Data("privacy:\n  accountant: moments\n".utf8).write(to: scratch.appendingPathComponent("bad.yaml"))
        let invalid = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--policy", "bad.yaml"] + Self.run, in: scratch)
        #expect(invalid.status != 0)
        #expect(invalid.stderr.contains("privacy.accountant"))
        #expect(invalid.stderr.contains("must be one of pld, rdp"))
    }

    @Test func noiseNeedsLessWithPLD() throws {
        let arguments = ["privacy", "noise", "--epsilon", "2", "--delta", "1e-6", "--sampling-rate", "0.0108", "--steps", "465", "--json"]
        let pld = try Self.json(try VeilProcess.run(arguments + ["--accountant", "pld"]))
        let rdp = try Self.json(try VeilProcess.run(arguments + ["--accountant", "rdp"]))
        let pldSigma = try #require(pld["noise_multiplier"] as? Double)
        let rdpSigma = try #require(rdp["noise_multiplier"] as? Double)
        #expect(pldSigma < rdpSigma)
        #expect((pld["epsilon"] as? Double ?? 3) <= 2)
        #expect(pld["target_epsilon"] as? Double == 2)
    }

    @Test func explainShowsBothAccountants() throws {
        let text = try VeilProcess.run(["privacy", "noise", "--epsilon", "2", "--delta", "1e-6", "--sampling-rate", "0.0108", "--steps", "465", "--explain"])
        #expect(text.status == 0, "\(text.stderr)")
        for line in ["run ", "σ ", "ε PLD", "ε RDP", "σ for PLD", "σ for RDP", "calibrated with PLD"] {
            #expect(text.stdout.contains(line), "missing \(line)")
        }
        let json = try Self.json(
            try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--explain", "--json"] + Self.run))
        let estimates = try #require(json["estimates"] as? [[String: Any]])
        #expect(estimates.compactMap { ($0["accountant"] as? [String: Any])?["accountant"] as? String } == ["pld", "rdp"])
        #expect(json["sampling_rate"] as? Double == 0.01 && json["steps"] as? Int == 1000)
    }

    @Test func badInputNamesTheOption() throws {
        let accountant = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--accountant", "moments"] + Self.run)
        #expect(accountant.status != 0)
        #expect(accountant.stderr.contains("--accountant"))
        #expect(accountant.stderr.contains("pld") && accountant.stderr.contains("rdp"))
        let rate = try VeilProcess.run(["privacy", "epsilon", "--noise-multiplier", "1", "--sampling-rate", "2", "--steps", "1", "--delta", "1e-5"])
        #expect(rate.status != 0)
        #expect(rate.stderr.contains("--sampling-rate must be in (0, 1]"))
    }

    @Test func helpHasExamples() throws {
        for command in [["privacy"], ["privacy", "epsilon"], ["privacy", "noise"]] {
            let result = try VeilProcess.run(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("veil privacy"))
            #expect(result.stdout.contains("--accountant") || command == ["privacy"])
        }
    }

    /// `veil train --explain` on stored users: q and steps from the number of users, σ by the
    /// policy's accountant, ε under both — and nothing spent, no event read.
    @Test func trainExplainSpendsNothing() throws {
        let scratch = try VeilProcess.scratchDirectory()
        let environment = ["VEIL_DATA_DIR": "data", "VEIL_POLICY": "policy.yaml"]
        try "dataset: test\n".write(to: scratch.appendingPathComponent("policy.yaml"), atomically: true, encoding: .utf8)
        #expect(try VeilProcess.run(["keys", "init", "--dir", "keys"], in: scratch, environment: environment).status == 0)
        let generated = try VeilProcess.run(
            ["generate", "--users", "300", "--days", "60", "--seed", "7", "--start", "2026-01-01", "--out", "events.ndjson"],
            in: scratch, environment: environment)
        #expect(generated.status == 0, "\(generated.stderr)")
        let ingested = try VeilProcess.run(["ingest", "events.ndjson"], in: scratch, environment: environment)
        #expect(ingested.status == 0, "\(ingested.stderr)")

        let explained = try VeilProcess.run(
            ["train", "--task", "purchase", "--epsilon", "2", "--batch-size", "32", "--explain", "--json"], in: scratch,
            environment: environment)
        #expect(explained.status == 0, "\(explained.stderr)")
        let report = try Self.json(explained)
        #expect(report["calibrated_with"] as? String == "pld" && report["target_epsilon"] as? Double == 2)
        // q = batch / n for the n users with events (at most the 300 generated).
        let users = 32 / (try #require(report["sampling_rate"] as? Double))
        #expect(abs(users - users.rounded()) < 1e-9 && users <= 300 && users > 200, "n = \(users)")
        let calibrations = try #require(report["calibrations"] as? [[String: Any]])
        let sigmas = calibrations.compactMap { $0["noise_multiplier"] as? Double }
        #expect(sigmas.count == 2 && sigmas[0] < sigmas[1])
        #expect(report["noise_multiplier"] as? Double == sigmas[0])
        // σ is calibrated for the run as it is charged: the steps composed with the private evaluation.
        let alongside = try #require(report["alongside"] as? [[String: Any]])
        #expect(alongside.count == 1 && alongside.first?["mechanism"] as? String == "discrete_gaussian")

        let budget = try VeilProcess.run(["budget", "--json"], in: scratch, environment: environment)
        let status = try Self.json(budget)
        #expect((status["spends"] as? [Any])?.isEmpty == true, "\(budget.stdout)")
        #expect((status["accountant"] as? [String: Any])?["accountant"] as? String == "pld")
        let text = try VeilProcess.run(["train", "--task", "purchase", "--epsilon", "2", "--batch-size", "32", "--explain"], in: scratch, environment: environment)
        #expect(text.stdout.contains("ε PLD") && text.stdout.contains("ε RDP"), "\(text.stdout) \(text.stderr)")
        #expect(text.stdout.contains("evaluation discrete Gaussian σ = "), "\(text.stdout)")
    }
}
