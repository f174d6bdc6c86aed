import Foundation

/// One user's ground truth for a horizon `[cutoff, cutoff + horizon)`: the best any model could know.
public struct ShopperTruth: Sendable {
    public let userID: String
    public let traits: ShopperTraits
    /// Whether the churn time is after the cutoff (the user can still start sessions).
    public let activeAtCutoff: Bool
    /// The activity multiplier m_w of the week containing the cutoff, when that week began before the
    /// cutoff (then it is conditioned on); nil when the cutoff starts a week.
    public let multiplierAtCutoff: Double?
    /// π: probability that one session ends in a purchase.
    public let purchaseProbabilityPerSession: Double
    /// P(≥ 1 purchase in the horizon | traits, active-at-cutoff status). 0 when churned before the cutoff.
    public let purchaseProbability: Double
    /// P(no event at all in the horizon | traits, active-at-cutoff status). 1 when churned before the cutoff.
    public let noEventProbability: Double
}

/// Means over a truth file, for the summary line.
public struct TruthSummary: Sendable, Codable, Equatable {
    public var cutoff: String
    public var horizonDays: Int
    public var users = 0
    public var activeAtCutoff = 0
    /// Mean of `p_purchase` over all users.
    public var meanPurchaseProbability = 0.0
    /// Mean of `p_no_event` over all users.
    public var meanNoEventProbability = 0.0
    /// Mean of `p_purchase_reachable` over all users.
    public var meanReachablePurchaseProbability = 0.0
    /// Mean of `p_no_event_reachable` over all users.
    public var meanReachableNoEventProbability = 0.0
    /// The best any recommender can do at the next-item task on this data.
    public var nextItem: NextItemCeiling

    enum CodingKeys: String, CodingKey {
        case cutoff, users
        case horizonDays = "horizon_days"
        case activeAtCutoff = "active_at_cutoff"
        case meanPurchaseProbability = "mean_p_purchase"
        case meanNoEventProbability = "mean_p_no_event"
        case meanReachablePurchaseProbability = "mean_p_purchase_reachable"
        case meanReachableNoEventProbability = "mean_p_no_event_reachable"
        case nextItem = "next_item"
    }

    init(cutoff: String, horizonDays: Int, k: Int) {
        self.cutoff = cutoff
        self.horizonDays = horizonDays
        nextItem = NextItemCeiling(k: k)
    }

    mutating func add(_ row: TruthRow) {
        users += 1
        if row.truth.activeAtCutoff { activeAtCutoff += 1 }
        meanPurchaseProbability += row.truth.purchaseProbability
        meanNoEventProbability += row.truth.noEventProbability
        meanReachablePurchaseProbability += row.reachable.purchaseProbability
        meanReachableNoEventProbability += row.reachable.noEventProbability
        if row.evaluable { nextItem.add(row.nextItems, target: row.target) }
    }

    mutating func finish() {
        meanPurchaseProbability /= Double(max(1, users))
        meanNoEventProbability /= Double(max(1, users))
        meanReachablePurchaseProbability /= Double(max(1, users))
        meanReachableNoEventProbability /= Double(max(1, users))
        nextItem.finish()
    }
}

/// The ceiling of Recall@K, NDCG@K and MRR@K for the next item (the first item viewed in the horizon)
/// over the users a recommender is evaluated on: those with an event before the cutoff and a view in the
/// horizon. Each is the mean over those users of what ranking items by their true probabilities p earns
/// in expectation — `Σ_{r≤K} p_(r)`, `Σ_{r≤K} p_(r)/log₂(r+1)` and `Σ_{r≤K} p_(r)/r` — no ranking earns
/// more. `truthHitRate` is the share of those users whose actual next item is in that top K (it estimates
/// `recall`, a check of the truth itself).
public struct NextItemCeiling: Sendable, Codable, Equatable {
    public var k: Int
    public var users = 0
    public var recall = 0.0
    public var ndcg = 0.0
    public var mrr = 0.0
    public var truthHitRate = 0.0

    enum CodingKeys: String, CodingKey {
        case k, users
        case recall = "recall_ceiling"
        case ndcg = "ndcg_ceiling"
        case mrr = "mrr_ceiling"
        case truthHitRate = "truth_hit_rate"
    }

    init(k: Int) { self.k = k }

    mutating func add(_ ranked: [RankedItem], target: Int) {
        users += 1
        for (position, entry) in ranked.prefix(k).enumerated() {
            let rank = Double(position + 1)
            recall += entry.probability
            ndcg += entry.probability / Foundation.log2(rank + 1)
            mrr += entry.probability / rank
            if entry.item == target { truthHitRate += 1 }
        }
    }

    mutating func finish() {
        let count = Double(max(1, users))
        recall /= count
        ndcg /= count
        mrr /= count
        truthHitRate /= count
    }
}

/// One user's truth-file row, computed while the user's events are generated.
struct TruthRow {
    var truth: ShopperTruth
    /// The horizon probabilities given the traits and the sessions before the cutoff.
    var reachable: ReachableTruth
    /// The most probable next items (empty when the user churned before the cutoff).
    var nextItems: [RankedItem]
    /// The actual first view in the horizon (−1 if none).
    var target: Int
    /// Seen before the cutoff with a view in the horizon: a user a recommender is evaluated on.
    var evaluable: Bool
}

/// What `generate(write:truth:progress:)` writes the truth file with.
public struct TruthRequest {
    /// Next items per row (the `next_item_r` columns), 1 … `maxTopItems`.
    public var topItems: Int
    public var write: (UnsafeRawBufferPointer) throws -> Void

    public static let maxTopItems = 100
    /// K of the summary's next-item ceilings (at most `topItems`).
    public static let summaryK = 10

    public init(topItems: Int = 20, write: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.topItems = topItems
        self.write = write
    }
}

extension SyntheticShoppers {
    /// The exact horizon probabilities of user `index` for the window starting `cutoffDay` days after the
    /// start and lasting `horizonDays` days.
    ///
    /// Conditioned on: the latent traits, whether the churn time C is after the cutoff c, and the activity
    /// multipliers of weeks that began before the cutoff. Integrated out: C − c ~ Exponential(h) (memoryless)
    /// and the multipliers m_w ~ Gamma(k, 1/k) of weeks that begin at or after the cutoff. With base
    /// intensity λ(t) = r·w(weekday)·24·v(hour) per day and L_w(s) its integral over week w's part of [c, c+s):
    ///
    ///     P(no session in [c, c+H)) = ∫₀^H h e^{−hs} G(s) ds + e^{−hH} G(H)
    ///     G(s) = Π_{known w} e^{−m_w L_w(s)} · Π_{later w} (1 + L_w(s)/k)^{−k}
    ///
    /// The integral is taken hour by hour: in closed form while the known week runs, by 3-point
    /// Gauss–Legendre on each hour after it (relative error far below 1e-9 on hours this short). Purchases are
    /// the same formula with λ replaced by π·λ (independent thinning of the session process).
    public func truth(ofUser index: Int, cutoffDay: Int, horizonDays: Int) -> ShopperTruth {
        let traits = traits(ofUser: index)
        let pi = traits.purchaseProbabilityPerSession(continueViewing: configuration.model.continueViewing)
        let active = traits.churnDay > Double(cutoffDay)
        var weekly = weeklyActivity(ofUser: index)
        var knownMultiplier: Double?
        if cutoffDay % 7 != 0 {
            weekly.advance(to: cutoffDay / 7)
            knownMultiplier = weekly.multiplier
        }
        guard active else {
            return ShopperTruth(
                userID: userID(index), traits: traits, activeAtCutoff: false, multiplierAtCutoff: knownMultiplier,
                purchaseProbabilityPerSession: pi, purchaseProbability: 0, noEventProbability: 1)
        }
        let cutoffWeek = knownMultiplier.map(WeekMultiplier.known)
            ?? .prior(shape: configuration.model.weeklyActivityShape)
        let noEvent = noSessionProbability(
            traits: traits, thinning: 1, cutoffWeek: cutoffWeek, cutoffDay: cutoffDay, horizonDays: horizonDays)
        let noPurchase = noSessionProbability(
            traits: traits, thinning: pi, cutoffWeek: cutoffWeek, cutoffDay: cutoffDay, horizonDays: horizonDays)
        return ShopperTruth(
            userID: userID(index), traits: traits, activeAtCutoff: true, multiplierAtCutoff: knownMultiplier,
            purchaseProbabilityPerSession: pi, purchaseProbability: min(1, max(0, 1 - noPurchase)),
            noEventProbability: min(1, max(0, noEvent)))
    }

    /// P(no thinned session in the horizon) for a user alive at the cutoff (see `truth(ofUser:…)`), with
    /// the multiplier of the week holding the cutoff distributed as `cutoffWeek` and every later week's
    /// as the prior Gamma(k, 1/k).
    func noSessionProbability(
        traits: ShopperTraits, thinning: Double, cutoffWeek: WeekMultiplier, cutoffDay: Int, horizonDays: Int
    ) -> Double {
        let hazard = traits.churnHazardPerDay
        let weekday = configuration.model.normalisedWeekdayWeights
        let laterWeeks = WeekMultiplier.prior(shape: configuration.model.weeklyActivityShape)
        let piece = 1.0 / 24

        var logDone = 0.0  // log G contributed by weeks already walked through
        var weekAccumulated = 0.0
        var week = cutoffDay / 7
        var multiplier = cutoffWeek
        var elapsed = 0.0
        var total = 0.0
        for day in cutoffDay..<(cutoffDay + horizonDays) {
            if day / 7 != week {
                logDone += multiplier.logLaplace(weekAccumulated)
                weekAccumulated = 0
                week = day / 7
                multiplier = laterWeeks
            }
            let dayRate = traits.sessionsPerDay * weekday[configuration.start.adding(days: day).weekday] * thinning
            for hour in 0..<24 {
                let kappa = dayRate * hourWeights[hour] * 24  // base intensity per day during this hour
                switch multiplier {
                case .known(let m):
                    let rate = hazard + m * kappa
                    total += hazard * Foundation.exp(logDone - m * weekAccumulated - hazard * elapsed)
                        * -Foundation.expm1(-rate * piece) / rate
                case .gamma:
                    for (node, weight) in GaussLegendre3.unit {
                        let logG = logDone + multiplier.logLaplace(weekAccumulated + kappa * node * piece)
                        total += weight * piece * hazard * Foundation.exp(logG - hazard * (elapsed + node * piece))
                    }
                }
                weekAccumulated += kappa * piece
                elapsed += piece
            }
        }
        logDone += multiplier.logLaplace(weekAccumulated)
        return total + Foundation.exp(logDone - hazard * elapsed)
    }

    /// The next-item truth of user `index` at `cutoffDay`: the `top` items most likely to be the user's
    /// first view on or after the cutoff, with their probabilities given the user's state then (its
    /// memory and affinities; see `nextViewDistribution`). They are conditional on there being a view in
    /// the horizon, whose probability is `1 − p_no_event` (every session views an item). Replays the
    /// user's sessions before the cutoff; `generate(write:truth:progress:)` computes the same while writing.
    public func nextItemTruth(ofUser index: Int, cutoffDay: Int, top: Int) -> [RankedItem] {
        var buffer = ByteBuffer()
        var scratch = UserScratch()
        _ = writeUser(index, into: &buffer, scratch: &scratch, cutoffDay: cutoffDay)
        return nextViewDistribution(memory: scratch.memoryAtCutoff, affinity: traits(ofUser: index).affinity, top: top)
    }

    /// The row of the truth file for user `index`, from the tally and memory `writeUser` left.
    func truthRow(_ index: Int, tally: UserTally, scratch: UserScratch, cutoffDay: Int, horizonDays: Int, top: Int) -> TruthRow {
        let truth = truth(ofUser: index, cutoffDay: cutoffDay, horizonDays: horizonDays)
        let reachable = reachableTruth(traits: truth.traits, history: tally.history, cutoffDay: cutoffDay, horizonDays: horizonDays)
        let nextItems = truth.activeAtCutoff
            ? nextViewDistribution(memory: scratch.memoryAtCutoff, affinity: truth.traits.affinity, top: top) : []
        return TruthRow(
            truth: truth, reachable: reachable, nextItems: nextItems, target: tally.firstViewInHorizon,
            evaluable: tally.seenBeforeCutoff && tally.firstViewInHorizon >= 0)
    }

    /// The CSV header of a truth file with `top` next items per row.
    public static func truthHeader(top: Int) -> String {
        "user_id,cutoff,horizon_days,active_at_cutoff,p_purchase,p_no_event,purchase_per_session,sessions_per_day,"
            + "week_multiplier_at_cutoff,churn_hazard_per_day,churn_day,activity,propensity,"
            + ShopperCatalog.categories.map { "affinity_" + $0 }.joined(separator: ",")
            + ",p_active_reachable,p_purchase_reachable,p_no_event_reachable"
            + (1...top).map { ",next_item_\($0),p_next_item_\($0)" }.joined()
    }

    /// Appends `row` as a line of the truth file (`top` next-item pairs; empty cells for a user churned
    /// before the cutoff).
    func appendTruthLine(_ row: TruthRow, cutoff: [UInt8], horizonDays: Int, top: Int, to buffer: inout ByteBuffer) {
        let truth = row.truth
        let traits = truth.traits
        buffer.reserve(1024 + 48 * top)
        buffer.bytes(Array(truth.userID.utf8))
        buffer.byte(UInt8(ascii: ","))
        buffer.bytes(cutoff)
        buffer.byte(UInt8(ascii: ","))
        buffer.decimal(horizonDays)
        buffer.bytes(truth.activeAtCutoff ? ",1" : ",0")
        for value in [truth.purchaseProbability, truth.noEventProbability, truth.purchaseProbabilityPerSession,
                      traits.sessionsPerDay] {
            buffer.byte(UInt8(ascii: ","))
            buffer.fixed(value, decimals: 6)
        }
        buffer.byte(UInt8(ascii: ","))
        if let multiplier = truth.multiplierAtCutoff { buffer.fixed(multiplier, decimals: 6) }
        buffer.byte(UInt8(ascii: ","))
        buffer.fixed(traits.churnHazardPerDay, decimals: 6)
        buffer.byte(UInt8(ascii: ","))
        buffer.fixed(traits.churnDay, decimals: 3)
        let reachable = row.reachable
        for value in [traits.activity, traits.propensity] + traits.affinity
            + [reachable.activeProbability, reachable.purchaseProbability, reachable.noEventProbability] {
            buffer.byte(UInt8(ascii: ","))
            buffer.fixed(value, decimals: 6)
        }
        for position in 0..<top {
            buffer.byte(UInt8(ascii: ","))
            guard position < row.nextItems.count else {
                buffer.byte(UInt8(ascii: ","))
                continue
            }
            buffer.itemID(row.nextItems[position].item)
            buffer.byte(UInt8(ascii: ","))
            buffer.fixed(row.nextItems[position].probability, decimals: 6)
        }
        buffer.byte(UInt8(ascii: "\n"))
    }
}
