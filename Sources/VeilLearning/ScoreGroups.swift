/// Binary-labelled scores grouped by distinct value, highest first: the walk every threshold and ranking
/// metric shares. Equal scores form one group, so ties are never split by an arbitrary order.
struct ScoreGroups {
    struct Group {
        let score: Double
        let positives: Int
        let negatives: Int
    }

    let groups: [Group]
    let positives: Int
    let negatives: Int

    init(scores: [Double], labels: [Int]) {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var groups: [Group] = []
        var start = 0
        while start < order.count {
            let score = scores[order[start]]
            var positives = 0
            var end = start
            while end < order.count, scores[order[end]] == score {
                positives += labels[order[end]]
                end += 1
            }
            groups.append(Group(score: score, positives: positives, negatives: end - start - positives))
            start = end
        }
        self.groups = groups
        positives = labels.reduce(0, +)
        negatives = labels.count - positives
    }
}
