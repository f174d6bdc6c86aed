import Foundation
import Testing
import VeilCore
@testable import VeilLearning

@Suite struct RankingEvaluationTests {
    /// Three users, catalogue of 10, K = 3, computed by hand:
    /// - user 0: [4, 2, 7 | 1], held out {2}: hit at rank 2 → recall 1, NDCG 1/log₂3, MRR 1/2;
    /// - user 1: [5, 3, 9], held out {0}: no hit → 0, 0, 0;
    /// - user 2: [1, 8, 6], held out {6, 1}: hits at ranks 1 and 3 → recall 2/2,
    ///   NDCG (1 + 1/log₂4) / (1 + 1/log₂3) = 1.5 / 1.6309297535714575, MRR 1;
    /// - coverage: {4, 2, 7, 5, 3, 9, 1, 8, 6} = 9 of 10 (user 0's 4th item is outside the top 3).
    @Test func handComputedCase() throws {
        let evaluation = try RankingEvaluation(
            rankings: [[4, 2, 7, 1], [5, 3, 9], [1, 8, 6]], heldOut: [[2], [0], [6, 1]], k: 3, catalogueSize: 10)
        let log2of3 = 1.5849625007211562
        #expect(evaluation.users == 3 && evaluation.k == 3)
        #expect(abs(evaluation.recall - 2.0 / 3) < 1e-15)
        #expect(abs(evaluation.ndcg - (1 / log2of3 + 1.5 / (1 + 1 / log2of3)) / 3) < 1e-15)
        #expect(abs(evaluation.mrr - 0.5) < 1e-15)
        #expect(evaluation.coverage == 0.9)
        // One held-out item each: recall is the hit rate.
        let next = try RankingEvaluation(rankings: [[4, 2, 7], [5, 3, 9]], nextItems: [7, 0], k: 2, catalogueSize: 10)
        #expect(next.recall == 0 && next.mrr == 0 && next.ndcg == 0)
        let deeper = try RankingEvaluation(rankings: [[4, 2, 7], [5, 3, 9]], nextItems: [7, 0], k: 3, catalogueSize: 10)
        #expect(deeper.recall == 0.5 && abs(deeper.mrr - 1.0 / 6) < 1e-15 && abs(deeper.ndcg - 0.25) < 1e-15)
    }

    /// Against scripts/ranking_metrics_reference.py: numpy with RecBole's definitions (hit matrix,
    /// cumulative sums), 60 users with 1–3 held-out items over 120 items, K = 1, 5, 10.
    @Test(arguments: RankingReference.metrics.map(\.k))
    func matchesRecBoleDefinitions(k: Int) throws {
        let expected = try #require(RankingReference.metrics.first { $0.k == k })
        let evaluation = try RankingEvaluation(
            rankings: RankingReference.rankings, heldOut: RankingReference.heldOut, k: k,
            catalogueSize: RankingReference.catalogueSize)
        #expect(abs(evaluation.recall - expected.recall) < 1e-12)
        #expect(abs(evaluation.ndcg - expected.ndcg) < 1e-12)
        #expect(abs(evaluation.mrr - expected.mrr) < 1e-12)
        #expect(abs(evaluation.coverage - expected.coverage) < 1e-12)
        #expect(evaluation.recall > 0 && evaluation.recall < 1, "the reference has hits and misses")
    }

    @Test func refusesMalformedInput() {
        func field(_ body: () throws -> RankingEvaluation) -> String? {
            do {
                _ = try body()
                return nil
            } catch let error as VeilError {
                return error.field
            } catch {
                return "unexpected"
            }
        }
        #expect(field { try RankingEvaluation(rankings: [], heldOut: [], k: 1, catalogueSize: 3) } == "rankings")
        #expect(field { try RankingEvaluation(rankings: [[0]], heldOut: [[0], [1]], k: 1, catalogueSize: 3) } == "rankings")
        #expect(field { try RankingEvaluation(rankings: [[0]], heldOut: [[0]], k: 0, catalogueSize: 3) } == "k")
        #expect(field { try RankingEvaluation(rankings: [[0]], heldOut: [[0]], k: 1, catalogueSize: 0) } == "catalogueSize")
        #expect(field { try RankingEvaluation(rankings: [[0]], heldOut: [[]], k: 1, catalogueSize: 3) } == "heldOut")
        #expect(field { try RankingEvaluation(rankings: [[0]], heldOut: [[1, 1]], k: 1, catalogueSize: 3) } == "heldOut")
        #expect(field { try RankingEvaluation(rankings: [[0]], heldOut: [[3]], k: 1, catalogueSize: 3) } == "heldOut")
        #expect(field { try RankingEvaluation(rankings: [[0, 0]], heldOut: [[0]], k: 2, catalogueSize: 3) } == "rankings")
        #expect(field { try RankingEvaluation(rankings: [[-1]], heldOut: [[0]], k: 1, catalogueSize: 3) } == "rankings")
        // A repeat below the top k does not count, so it is allowed.
        #expect(field { try RankingEvaluation(rankings: [[0, 1, 0]], heldOut: [[0]], k: 2, catalogueSize: 3) } == nil)
    }

    @Test func topKBreaksTiesTowardsTheLowerIndexAndSkipsExclusions() {
        let scores = [0.1, 0.5, 0.5, .nan, 0.9, 0.5, -1]
        #expect(TopK.indices(of: scores, k: 3) == [4, 1, 2])
        #expect(TopK.indices(of: scores, k: 3, excluding: [4, 1]) == [2, 5, 0])
        #expect(TopK.indices(of: scores, k: 10) == [4, 1, 2, 5, 0, 6], "NaN is never recommended")
        #expect(TopK.indices(of: scores, k: 0).isEmpty)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let values = (0..<200).map { _ in Double(Int.random(in: 0..<40, using: &random)) }
            let expected = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
            #expect(TopK.indices(of: values, k: 15) == Array(expected.prefix(15)))
        }
    }
}

@Suite struct BaselineRecommenderTests {
    /// Sequences [0, 1, 2], [1, 2], [2, 1, 2, 0] over 4 items, by hand:
    /// counts 0: 2, 1: 3, 2: 4, 3: 0 → popularity 2, 1, 0, 3;
    /// transitions 0→1, 1→2 (×3), 2→1, 2→0 → after 2: 0 and 1 once each, 1 is more popular → 1, 0, then 3 from
    /// popularity; after 3 (never a predecessor): popularity.
    @Test func handComputedCase() throws {
        let sequences = [[0, 1, 2], [1, 2], [2, 1, 2, 0]]
        let popularity = try PopularityRecommender(trainingSequences: sequences, itemCount: 4)
        #expect(popularity.counts == [2, 3, 4, 0])
        #expect(popularity.recommend(k: 3) == [2, 1, 0])
        #expect(popularity.recommend(k: 10) == [2, 1, 0, 3])
        #expect(popularity.recommend(k: 2, excluding: [2]) == [1, 0])
        let transitions = try TransitionRecommender(trainingSequences: sequences, itemCount: 4)
        #expect(transitions.count(from: 1, to: 2) == 3 && transitions.count(from: 2, to: 0) == 1 && transitions.count(from: 0, to: 2) == 0)
        #expect(transitions.recommend(after: 2, k: 3) == [1, 0, 2])
        #expect(transitions.recommend(after: 2, k: 4, excluding: [1]) == [0, 2, 3])
        #expect(transitions.recommend(after: 1, k: 2) == [2, 1])
        #expect(transitions.recommend(after: 3, k: 2) == [2, 1])
        #expect(transitions.recommend(after: nil, k: 2) == [2, 1])
        // The repeat baseline: own items [3, 0, 3, 1] most recent first (1, 3, 0), then popularity (2).
        #expect(popularity.recommend(k: 4, ownItemsFirst: [3, 0, 3, 1]) == [1, 3, 0, 2])
        #expect(popularity.recommend(k: 2, ownItemsFirst: [3, 0, 3, 1]) == [1, 3])
        #expect(popularity.recommend(k: 3, ownItemsFirst: [3, 0, 3, 1], excluding: [3]) == [1, 0, 2])
        #expect(popularity.recommend(k: 2, ownItemsFirst: []) == [2, 1])
    }

    /// Against scripts/ranking_metrics_reference.py (collections.Counter): 50 random sequences over 25
    /// items, 30 queries with exclusion sets.
    @Test func matchesTheIndependentReference() throws {
        let popularity = try PopularityRecommender(trainingSequences: RankingReference.sequences, itemCount: RankingReference.itemCount)
        let transitions = try TransitionRecommender(trainingSequences: RankingReference.sequences, itemCount: RankingReference.itemCount)
        for query in RankingReference.queries {
            let excluding = Set(query.excluding)
            #expect(popularity.recommend(k: 5, excluding: excluding) == query.popularity)
            #expect(transitions.recommend(after: query.last, k: 5, excluding: excluding) == query.transition, "\(query)")
        }
    }

    @Test func refusesItemsOutsideTheCatalogue() {
        #expect(throws: VeilError.self) { try PopularityRecommender(trainingSequences: [[0, 4]], itemCount: 4) }
        #expect(throws: VeilError.self) { try TransitionRecommender(trainingSequences: [[-1]], itemCount: 4) }
        #expect(throws: VeilError.self) { try PopularityRecommender(trainingSequences: [], itemCount: 0) }
    }
}
