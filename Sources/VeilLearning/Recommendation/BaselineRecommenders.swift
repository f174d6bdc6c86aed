import VeilCore

/// Recommends the items seen most often in the training split, the same list for everyone.
///
/// **Not private.** Its counts are exact statistics of the training users' events: it exists only to put
/// a model's recommendation quality in context on a model card, computed and shown beside it. It is
/// never trained with DP, never stored as an artifact and never served.
///
/// Ranking: count, highest first; ties to the lower item index.
public struct PopularityRecommender: Sendable {
    /// Interactions per item in the training sequences.
    public let counts: [Int]
    /// Every item, most frequent first.
    private let order: [Int]

    /// Counts every item of every training sequence (item indices in `0..<itemCount`).
    public init(trainingSequences: [[Int]], itemCount: Int) throws {
        var counts = [Int](repeating: 0, count: try Self.checkedCount(itemCount))
        for sequence in trainingSequences {
            for item in sequence {
                guard counts.indices.contains(item) else { throw Self.outOfRange(itemCount) }
                counts[item] += 1
            }
        }
        self.counts = counts
        order = counts.indices.sorted { counts[$0] > counts[$1] || (counts[$0] == counts[$1] && $0 < $1) }
    }

    /// The `k` most frequent items not in `excluding` (e.g. what the user already bought, or the
    /// vocabulary's "other" token).
    public func recommend(k: Int, excluding: Set<Int> = []) -> [Int] {
        var list: [Int] = []
        list.reserveCapacity(k)
        for item in order where list.count < k && !excluding.contains(item) { list.append(item) }
        return list
    }

    /// The repeat baseline: the user's own items (`sequence`, oldest first), most recent first, then the
    /// most frequent, skipping `excluding` — people come back to what they looked at, and this is how far
    /// that alone goes.
    public func recommend(k: Int, ownItemsFirst sequence: [Int], excluding: Set<Int> = []) -> [Int] {
        var list: [Int] = []
        list.reserveCapacity(k)
        for item in sequence.reversed() where list.count < k && !excluding.contains(item) && !list.contains(item) {
            list.append(item)
        }
        fill(&list, k: k, excluding: excluding)
        return list
    }

    /// Fills `list` up to `k` items from the popularity order, skipping `excluding` and what `list` holds.
    func fill(_ list: inout [Int], k: Int, excluding: Set<Int>) {
        guard list.count < k else { return }
        let chosen = Set(list)
        for item in order where list.count < k && !excluding.contains(item) && !chosen.contains(item) {
            list.append(item)
        }
    }

    static func checkedCount(_ itemCount: Int) throws -> Int {
        guard itemCount >= 1 else { throw VeilError(.invalidInput, field: "itemCount", "must be at least 1") }
        return itemCount
    }

    static func outOfRange(_ itemCount: Int) -> VeilError {
        VeilError(.invalidInput, field: "trainingSequences", "every item must be in 0..<\(itemCount)")
    }
}

/// A first-order item-to-item model: after item a, recommends the items that followed a most often in
/// the training sequences, then fills up from popularity (the back-off for items never or rarely seen).
///
/// **Not private.** Its counts are exact statistics of the training users' events: it exists only to put
/// a model's recommendation quality in context on a model card, computed and shown beside it. It is
/// never trained with DP, never stored as an artifact and never served.
///
/// Ranking: transition count from the user's last item, highest first; then popularity (as
/// `PopularityRecommender`); ties to the lower item index. Every consecutive pair (a, b) of a training
/// sequence counts once, a = b included; the caller decides what a sequence holds (e.g. views with
/// consecutive repeats collapsed).
public struct TransitionRecommender: Sendable {
    public let popularity: PopularityRecommender
    /// For each item, its successors in ranking order, with their counts.
    private let successors: [[(item: Int, count: Int)]]

    public init(trainingSequences: [[Int]], itemCount: Int) throws {
        popularity = try PopularityRecommender(trainingSequences: trainingSequences, itemCount: itemCount)
        var pairs = [[Int: Int]](repeating: [:], count: itemCount)
        for sequence in trainingSequences where sequence.count >= 2 {
            for (current, next) in zip(sequence, sequence.dropFirst()) { pairs[current][next, default: 0] += 1 }
        }
        let popular = popularity.counts
        successors = pairs.map { counts in
            counts.map { (item: $0.key, count: $0.value) }.sorted {
                ($0.count, popular[$0.item], -$0.item) > ($1.count, popular[$1.item], -$1.item)
            }
        }
    }

    /// How often `next` followed `current` in the training sequences.
    public func count(from current: Int, to next: Int) -> Int {
        successors[current].first { $0.item == next }?.count ?? 0
    }

    /// The top `k` after `last` (the user's most recent item; nil or out of range: popularity alone),
    /// skipping `excluding`.
    public func recommend(after last: Int?, k: Int, excluding: Set<Int> = []) -> [Int] {
        var list: [Int] = []
        list.reserveCapacity(k)
        if let last, successors.indices.contains(last) {
            for successor in successors[last] where list.count < k && !excluding.contains(successor.item) {
                list.append(successor.item)
            }
        }
        popularity.fill(&list, k: k, excluding: excluding)
        return list
    }
}
