import Foundation
import Testing
import VeilCore
@testable import VeilModels

/// The quality gate's rule on cards as training writes them (snake_case JSON).
@Suite struct QualityGateTests {
    static func card(_ json: String) throws -> [String: JSONValue] {
        try #require(JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)).objectValue)
    }

    static func binary(_ auc: String, baselines: [String: Double]) -> String {
        let rows = baselines.map { #""\#($0.key)":{"binary":{"roc_auc":\#($0.value)}}"# }.joined(separator: ",")
        return #"{"metrics":{"binary":{"roc_auc":\#(auc)}},"baselines":{\#(rows)}}"#
    }

    @Test(arguments: [
        // (model AUC, baselines, passes, reason)
        ("0.323", ["base_rate": 0.5, "recency": 0.55], false, "ROC AUC 0.3230 is not above 0.5000 (chance)"),
        ("0.5", [:], false, "ROC AUC 0.5000 is not above 0.5000 (chance)"),
        ("0.6", ["base_rate": 0.5, "recency": 0.6], false, "ROC AUC 0.6000 is not above the recency baseline's 0.6000"),
        ("0.59", ["base_rate": 0.5, "recency": 0.61], false, "ROC AUC 0.5900 is not above the recency baseline's 0.6100"),
        ("0.74", ["base_rate": 0.5, "recency": 0.61], true, "ROC AUC 0.7400 is above the best baseline (recency, 0.6100)"),
        ("0.7", [:], true, "ROC AUC 0.7000 is above chance; the card has no baseline"),
    ] as [(String, [String: Double], Bool, String)])
    func binaryTasksMustBeatChanceAndEveryBaseline(auc: String, baselines: [String: Double], passes: Bool, reason: String) throws {
        let gate = QualityGate.judge(card: try Self.card(Self.binary(auc, baselines: baselines)))
        #expect(gate.passes == passes)
        #expect(gate.reason == reason)
        #expect(gate.metric == "roc_auc")
    }

    @Test func anUndefinedAUCFails() throws {
        let gate = QualityGate.judge(card: try Self.card(Self.binary("null", baselines: ["base_rate": 0.5])))
        #expect(!gate.passes && gate.model == nil)
        #expect(gate.reason.hasPrefix("ROC AUC is undefined"))
    }

    @Test func multiclassTasksCompareTopOneAccuracy() throws {
        let card = { (model: Double, favourite: Double) in
            try Self.card(
                #"{"metrics":{"multiclass":{"top1_accuracy":\#(model)}},"baselines":{"favourite_category":{"multiclass":{"top1_accuracy":\#(favourite)}},"base_rate":{"multiclass":{"top1_accuracy":0.2}}}}"#)
        }
        let worse = QualityGate.judge(card: try card(0.31, 0.35))
        #expect(!worse.passes && worse.bestBaseline == "favourite_category" && worse.bestBaselineValue == 0.35)
        #expect(worse.reason == "top-1 accuracy 0.3100 is not above the favourite_category baseline's 0.3500")
        #expect(QualityGate.judge(card: try card(0.4, 0.35)).passes)
    }

    @Test func rankingTasksCompareRecallWithThePopularityAndTransitionBaselines() throws {
        let card = { (model: Double, transitions: Double) in
            try Self.card(
                #"{"metrics":{"ranking":{"k":10,"recall":\#(model),"ndcg":0.1}},"baselines":{"popularity":{"ranking":{"recall":0.12}},"transition":{"ranking":{"recall":\#(transitions)}}}}"#)
        }
        let worse = QualityGate.judge(card: try card(0.2, 0.25))
        #expect(!worse.passes && worse.metric == "recall" && worse.bestBaseline == "transition" && worse.bestBaselineValue == 0.25)
        #expect(worse.reason == "Recall@K 0.2000 is not above the transition baseline's 0.2500")
        let better = QualityGate.judge(card: try card(0.3, 0.25))
        #expect(better.passes && better.reason == "Recall@K 0.3000 is above the best baseline (transition, 0.2500)")
    }

    /// Over HTTP the gate follows the exact statistics it is read from (`ModelCard.shown`): without the
    /// policy's leave, and for every role but reviewer and admin, it keeps its verdict and loses its numbers.
    @Test(arguments: [(Role.reviewer, true, true), (.admin, true, true), (.reviewer, false, false), (.analyst, true, false), (.auditor, true, false)])
    func theGateShowsItsNumbersOnlyWhereTheExactMetricsAreShown(role: Role, allowed: Bool, exact: Bool) throws {
        var card = try Self.card(Self.binary("0.323", baselines: ["base_rate": 0.5, "recency": 0.55]))
        card["quality_gate"] = .object(QualityGate.judge(card: card).json)
        var policy = Policy()
        policy.training.exactHoldoutMetrics = allowed
        let gate = try #require(ModelCard.shown(card, to: role, policy: policy)["quality_gate"]?.objectValue)
        #expect(gate["passes"] == .bool(false) && gate["metric"] == "roc_auc" && gate["best_baseline"] == "recency")
        #expect((gate["model"] != nil) == exact && (gate["best_baseline_value"] != nil) == exact)
        guard case .string(let reason)? = gate["reason"] else { Issue.record("no reason"); return }
        #expect(reason.contains(where: \.isNumber) == exact, "\(reason)")
        if !exact { #expect(reason == QualityGate.numberFreeReason(passes: false)) }
    }

    @Test func aCardWithoutMetricsFails() throws {
        let gate = QualityGate.judge(card: try Self.card(#"{"metrics":{},"baselines":{}}"#))
        #expect(!gate.passes && gate.metric == nil)
    }
}
