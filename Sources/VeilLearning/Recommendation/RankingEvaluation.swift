import Foundation
import VeilCore

/// Top-K quality of item recommendations on held-out users, with the definitions RecBole uses
/// (`recbole/evaluator/metrics.py`), averaged over users. For user u with ranked list R̂(u) (best first,
/// cut at K) and held-out items R(u):
///
/// - **Recall@K** = |R̂(u) ∩ R(u)| / |R(u)| — with one held-out item, the hit rate (HR@K).
/// - **NDCG@K** = DCG / IDCG with DCG = Σ_{r ≤ K, R̂_r(u) ∈ R(u)} 1 / log₂(r + 1) and
///   IDCG = Σ_{r ≤ min(|R(u)|, K)} 1 / log₂(r + 1) — with one held-out item, 1 / log₂(rank + 1) on a hit.
/// - **MRR@K** = 1 / (rank of the first held-out item in R̂(u)), 0 if none is in the top K.
/// - **Coverage@K** (catalogue coverage) = |∪_u R̂(u)| / catalogue size: how much of the catalogue the
///   recommendations reach at all (not averaged over users).
///
/// Ranks count from 1. Lists shorter than K count as they are (no item is a miss).
public struct RankingEvaluation: Sendable, Hashable, Codable {
    public let k: Int
    /// Held-out users evaluated.
    public let users: Int
    public let recall: Double
    public let ndcg: Double
    public let mrr: Double
    public let coverage: Double
    /// Items a recommendation could name (the denominator of `coverage`).
    public let catalogueSize: Int

    enum CodingKeys: String, CodingKey {
        case k, users, recall, ndcg, mrr, coverage
        case catalogueSize = "catalogue_size"
    }

    /// Evaluates `rankings[u]` (item indices, best first; only the first `k` count) against
    /// `heldOut[u]` (the user's held-out items, at least one, no repeats) for every user u.
    ///
    /// Throws `VeilError.invalidInput` when there are no users, the two lists differ in length, `k` or
    /// `catalogueSize` is below 1, a held-out set is empty or repeats an item, a ranking repeats an
    /// item in its top `k` (that would count a hit twice), or an item is outside `0..<catalogueSize`.
    public init(rankings: [[Int]], heldOut: [[Int]], k: Int, catalogueSize: Int) throws {
        guard k >= 1 else { throw VeilError(.invalidInput, field: "k", "must be at least 1") }
        guard catalogueSize >= 1 else { throw VeilError(.invalidInput, field: "catalogueSize", "must be at least 1") }
        guard !rankings.isEmpty, rankings.count == heldOut.count else {
            throw VeilError(.invalidInput, field: "rankings", "need one ranking per held-out user and at least one user")
        }
        let catalogue = 0..<catalogueSize
        var recommended = Set<Int>()
        var recall = 0.0
        var ndcg = 0.0
        var mrr = 0.0
        for (ranking, targets) in zip(rankings, heldOut) {
            let top = ranking.prefix(k)
            let targetSet = Set(targets)
            guard !targets.isEmpty, targetSet.count == targets.count, targets.allSatisfy(catalogue.contains) else {
                throw VeilError(
                    .invalidInput, field: "heldOut",
                    "every user needs at least one held-out item, without repeats, each in 0..<\(catalogueSize)")
            }
            guard Set(top).count == top.count, top.allSatisfy(catalogue.contains) else {
                throw VeilError(
                    .invalidInput, field: "rankings", "a ranking's top \(k) must not repeat an item and must lie in 0..<\(catalogueSize)")
            }
            recommended.formUnion(top)
            var hits = 0
            var dcg = 0.0
            var reciprocal = 0.0
            for (position, item) in top.enumerated() where targetSet.contains(item) {
                hits += 1
                dcg += Self.discount(rank: position + 1)
                if reciprocal == 0 { reciprocal = 1 / Double(position + 1) }
            }
            let ideal = (1...min(targets.count, k)).reduce(0.0) { $0 + Self.discount(rank: $1) }
            recall += Double(hits) / Double(targets.count)
            ndcg += dcg / ideal
            mrr += reciprocal
        }
        let users = Double(rankings.count)
        self.k = k
        self.users = rankings.count
        self.recall = recall / users
        self.ndcg = ndcg / users
        self.mrr = mrr / users
        self.coverage = Double(recommended.count) / Double(catalogueSize)
        self.catalogueSize = catalogueSize
    }

    /// One held-out item per user (the next item): Recall@K is then the hit rate.
    public init(rankings: [[Int]], nextItems: [Int], k: Int, catalogueSize: Int) throws {
        try self.init(rankings: rankings, heldOut: nextItems.map { [$0] }, k: k, catalogueSize: catalogueSize)
    }

    /// 1 / log₂(rank + 1).
    static func discount(rank: Int) -> Double { 1 / log2(Double(rank) + 1) }
}

/// Choosing the top K of a score vector.
public enum TopK {
    /// The indices of the `k` highest `scores`, highest first; ties go to the lower index. Indices in
    /// `excluding` are skipped, as are NaN scores. Fewer than `k` when fewer are left.
    public static func indices(of scores: [Double], k: Int, excluding: Set<Int> = []) -> [Int] {
        guard k > 0 else { return [] }
        // A sorted window of the best k so far: most scores fail the first comparison with its worst.
        var best: [(score: Double, index: Int)] = []
        best.reserveCapacity(k + 1)
        for (index, score) in scores.enumerated() where !score.isNaN && !excluding.contains(index) {
            if best.count == k, let worst = best.last, !(score > worst.score) { continue }
            var position = best.count
            while position > 0, score > best[position - 1].score { position -= 1 }
            best.insert((score, index), at: position)
            if best.count > k { best.removeLast() }
        }
        return best.map(\.index)
    }
}
