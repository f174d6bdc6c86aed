import Foundation
import Testing

/// `veil train` parses and calls: the training rules are `TrainingRequest`'s, reported under the option
/// the user typed.
@Suite struct TrainCLITests {
    @Test(arguments: [
        (["--task", "purchase"], "--epsilon", "is required"),
        (["--task", "purchase", "--epsilon", "1", "--non-private"], "--non-private", "training.allow_non_private"),
        (["--task", "purchase", "--epsilon", "1", "--hidden", "32"], "--hidden", "must be empty for model logistic"),
        (["--task", "purchase", "--epsilon", "1", "--epochs", "0"], "--epochs", "must be between 1 and 1000"),
        (["--task", "purchase", "--epsilon", "1", "--horizon", "400d"], "--horizon", "must be between 1 and 365 days"),
    ])
    func aBrokenRuleNamesTheOptionAndSpendsNothing(arguments: [String], option: String, rule: String) throws {
        let scratch = try VeilProcess.scratchDirectory()
        let created = try VeilProcess.run(["keys", "init", "--dir", "keys", "--data-dir", "data"], in: scratch)
        #expect(created.status == 0, "\(created.stderr)")
        let policy = scratch.appendingPathComponent("policy.yaml")
        try "dataset: test\n".write(to: policy, atomically: true, encoding: .utf8)
        let result = try VeilProcess.run(["train"] + arguments + ["--data-dir", "data", "--policy", "policy.yaml"], in: scratch)
        #expect(result.status != 0)
        #expect(result.stderr.contains(option), "\(result.stderr)")
        #expect(result.stderr.contains(rule), "\(result.stderr)")
        let budget = try VeilProcess.run(["budget", "--json", "--data-dir", "data", "--policy", "policy.yaml"], in: scratch)
        let status = try JSONSerialization.jsonObject(with: Data(budget.stdout.utf8)) as? [String: Any]
        #expect((status?["spends"] as? [Any])?.isEmpty == true, "\(budget.stdout) \(budget.stderr)")
    }
}
