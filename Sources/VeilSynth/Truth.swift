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

    enum CodingKeys: String, CodingKey {
        case cutoff, users
        case horizonDays = "horizon_days"
        case activeAtCutoff = "active_at_cutoff"
        case meanPurchaseProbability = "mean_p_purchase"
        case meanNoEventProbability = "mean_p_no_event"
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
        let noEvent = noSessionProbability(
            traits: traits, thinning: 1, knownMultiplier: knownMultiplier, cutoffDay: cutoffDay, horizonDays: horizonDays)
        let noPurchase = noSessionProbability(
            traits: traits, thinning: pi, knownMultiplier: knownMultiplier, cutoffDay: cutoffDay, horizonDays: horizonDays)
        return ShopperTruth(
            userID: userID(index), traits: traits, activeAtCutoff: true, multiplierAtCutoff: knownMultiplier,
            purchaseProbabilityPerSession: pi, purchaseProbability: min(1, max(0, 1 - noPurchase)),
            noEventProbability: min(1, max(0, noEvent)))
    }

    /// P(no thinned session in the horizon) for a user alive at the cutoff (see `truth(ofUser:…)`).
    func noSessionProbability(
        traits: ShopperTraits, thinning: Double, knownMultiplier: Double?, cutoffDay: Int, horizonDays: Int
    ) -> Double {
        let hazard = traits.churnHazardPerDay
        let shape = configuration.model.weeklyActivityShape
        let weekday = configuration.model.normalisedWeekdayWeights
        let knownWeek = knownMultiplier == nil ? -1 : cutoffDay / 7
        let piece = 1.0 / 24
        // 3-point Gauss–Legendre on [0, piece].
        let nodes = [(1 - (0.6).squareRoot()) / 2, 0.5, (1 + (0.6).squareRoot()) / 2].map { $0 * piece }
        let weights = [5.0 / 18, 8.0 / 18, 5.0 / 18].map { $0 * piece }

        /// log of week `week`'s factor in G once `accumulated` base intensity has passed in it.
        func logFactor(week: Int, accumulated: Double) -> Double {
            if week == knownWeek { return -knownMultiplier! * accumulated }
            return shape.isFinite ? -shape * Foundation.log1p(accumulated / shape) : -accumulated
        }

        var logDone = 0.0  // log G contributed by weeks already walked through
        var weekAccumulated = 0.0
        var week = cutoffDay / 7
        var elapsed = 0.0
        var total = 0.0
        for day in cutoffDay..<(cutoffDay + horizonDays) {
            if day / 7 != week {
                logDone += logFactor(week: week, accumulated: weekAccumulated)
                weekAccumulated = 0
                week = day / 7
            }
            let dayRate = traits.sessionsPerDay * weekday[configuration.start.adding(days: day).weekday] * thinning
            for hour in 0..<24 {
                let kappa = dayRate * hourWeights[hour] * 24  // base intensity per day during this hour
                if week == knownWeek || !shape.isFinite {
                    let multiplier = week == knownWeek ? knownMultiplier! : 1
                    let rate = hazard + multiplier * kappa
                    total += hazard * Foundation.exp(logDone - multiplier * weekAccumulated - hazard * elapsed)
                        * -Foundation.expm1(-rate * piece) / rate
                } else {
                    for (node, weight) in zip(nodes, weights) {
                        let logG = logDone - shape * Foundation.log1p((weekAccumulated + kappa * node) / shape)
                        total += weight * hazard * Foundation.exp(logG - hazard * (elapsed + node))
                    }
                }
                weekAccumulated += kappa * piece
                elapsed += piece
            }
        }
        logDone += logFactor(week: week, accumulated: weekAccumulated)
        return total + Foundation.exp(logDone - hazard * elapsed)
    }

    /// The CSV header of a truth file.
    public static var truthHeader: String {
        "user_id,cutoff,horizon_days,active_at_cutoff,p_purchase,p_no_event,purchase_per_session,sessions_per_day,"
            + "week_multiplier_at_cutoff,churn_hazard_per_day,churn_day,activity,propensity,"
            + ShopperCatalog.categories.map { "affinity_" + $0 }.joined(separator: ",")
    }

    /// Writes the truth file (CSV, header first, one row per user in index order) through `write`.
    public func writeTruth(
        cutoffDay: Int, horizonDays: Int, write: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> TruthSummary {
        let cutoff = configuration.start.adding(days: cutoffDay).description
        var summary = TruthSummary(cutoff: cutoff, horizonDays: horizonDays)
        var buffer = ByteBuffer(capacity: 1 << 17)
        buffer.reserve(1024)
        buffer.bytes(Array((Self.truthHeader + "\n").utf8))
        let cutoffBytes = Array(cutoff.utf8)
        for index in 0..<configuration.users {
            let truth = truth(ofUser: index, cutoffDay: cutoffDay, horizonDays: horizonDays)
            let traits = truth.traits
            buffer.reserve(1024)
            buffer.bytes(Array(truth.userID.utf8))
            buffer.byte(UInt8(ascii: ","))
            buffer.bytes(cutoffBytes)
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
            for value in [traits.activity, traits.propensity] + traits.affinity {
                buffer.byte(UInt8(ascii: ","))
                buffer.fixed(value, decimals: 6)
            }
            buffer.byte(UInt8(ascii: "\n"))
            summary.users += 1
            if truth.activeAtCutoff { summary.activeAtCutoff += 1 }
            summary.meanPurchaseProbability += truth.purchaseProbability
            summary.meanNoEventProbability += truth.noEventProbability
            if buffer.count > 1 << 16 {
                try buffer.withBytes(write)
                buffer.removeAll()
            }
        }
        try buffer.withBytes(write)
        summary.meanPurchaseProbability /= Double(max(1, summary.users))
        summary.meanNoEventProbability /= Double(max(1, summary.users))
        return summary
    }
}
