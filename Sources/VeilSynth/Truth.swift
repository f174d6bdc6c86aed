import Foundation

/// One user's ground truth for a horizon `[cutoff, cutoff + horizon)`: the best any model could know.
public struct ShopperTruth: Sendable {
    public let userID: String
    public let traits: ShopperTraits
    /// Whether the churn time is after the cutoff (the user can still start sessions).
    public let activeAtCutoff: Bool
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
    /// With churn hazard h, session intensity λ(t) (piecewise constant per hour) and per-session purchase
    /// probability π, and the user active at the cutoff c (memoryless churn: C − c ~ Exponential(h)):
    ///
    ///     P(no session in [c, c+H)) = ∫₀^H h e^{−hs} e^{−Λ(s)} ds + e^{−hH} e^{−Λ(H)},   Λ(s) = ∫₀^s λ
    ///
    /// evaluated exactly hour by hour; purchases are the same formula with λ replaced by π·λ (independent
    /// thinning of the session process). No sampling is involved.
    public func truth(ofUser index: Int, cutoffDay: Int, horizonDays: Int) -> ShopperTruth {
        let traits = traits(ofUser: index)
        let pi = traits.purchaseProbabilityPerSession(continueViewing: configuration.model.continueViewing)
        let active = traits.churnDay > Double(cutoffDay)
        guard active else {
            return ShopperTruth(
                userID: userID(index), traits: traits, activeAtCutoff: false,
                purchaseProbabilityPerSession: pi, purchaseProbability: 0, noEventProbability: 1)
        }
        let noEvent = noSessionProbability(traits: traits, thinning: 1, cutoffDay: cutoffDay, horizonDays: horizonDays)
        let noPurchase = noSessionProbability(traits: traits, thinning: pi, cutoffDay: cutoffDay, horizonDays: horizonDays)
        return ShopperTruth(
            userID: userID(index), traits: traits, activeAtCutoff: true,
            purchaseProbabilityPerSession: pi, purchaseProbability: min(1, max(0, 1 - noPurchase)),
            noEventProbability: min(1, max(0, noEvent)))
    }

    /// P(no thinned session in the horizon), for a user alive at the cutoff.
    func noSessionProbability(traits: ShopperTraits, thinning: Double, cutoffDay: Int, horizonDays: Int) -> Double {
        let hazard = traits.churnHazardPerDay
        let weekday = configuration.model.normalisedWeekdayWeights
        let piece = 1.0 / 24
        var cumulative = 0.0  // Λ at the start of the piece
        var elapsed = 0.0  // s at the start of the piece, in days
        var total = 0.0
        for day in cutoffDay..<(cutoffDay + horizonDays) {
            let dayRate = traits.sessionsPerDay * weekday[configuration.start.adding(days: day).weekday] * thinning
            for hour in 0..<24 {
                let kappa = dayRate * hourWeights[hour] * 24  // intensity per day during this hour
                let rate = hazard + kappa
                total += hazard * Foundation.exp(-cumulative - hazard * elapsed) * -Foundation.expm1(-rate * piece) / rate
                cumulative += kappa * piece
                elapsed += piece
            }
        }
        return total + Foundation.exp(-hazard * elapsed - cumulative)
    }

    /// The CSV header of a truth file.
    public static var truthHeader: String {
        "user_id,cutoff,horizon_days,active_at_cutoff,p_purchase,p_no_event,purchase_per_session,sessions_per_day,"
            + "churn_hazard_per_day,churn_day,activity,propensity,"
            + ShopperCatalog.categories.map { "affinity_" + $0 }.joined(separator: ",")
    }

    /// Writes the truth file (CSV, header first, one row per user in index order) through `write`.
    public func writeTruth(
        cutoffDay: Int, horizonDays: Int, write: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> TruthSummary {
        let cutoff = configuration.start.adding(days: cutoffDay).description
        var summary = TruthSummary(cutoff: cutoff, horizonDays: horizonDays)
        var text = Self.truthHeader + "\n"
        func flush() throws {
            var bytes = Array(text.utf8)
            try bytes.withUnsafeMutableBytes { try write(UnsafeRawBufferPointer($0)) }
            text.removeAll(keepingCapacity: true)
        }
        func number(_ value: Double) -> String { String(format: "%.6f", value) }
        for index in 0..<configuration.users {
            let truth = truth(ofUser: index, cutoffDay: cutoffDay, horizonDays: horizonDays)
            let traits = truth.traits
            var fields = [
                truth.userID, cutoff, String(horizonDays), truth.activeAtCutoff ? "1" : "0",
                number(truth.purchaseProbability), number(truth.noEventProbability),
                number(truth.purchaseProbabilityPerSession), number(traits.sessionsPerDay),
                number(traits.churnHazardPerDay), String(format: "%.3f", traits.churnDay),
                number(traits.activity), number(traits.propensity),
            ]
            fields += traits.affinity.map(number)
            text += fields.joined(separator: ",") + "\n"
            summary.users += 1
            if truth.activeAtCutoff { summary.activeAtCutoff += 1 }
            summary.meanPurchaseProbability += truth.purchaseProbability
            summary.meanNoEventProbability += truth.noEventProbability
            if text.utf8.count > 1 << 16 { try flush() }
        }
        try flush()
        summary.meanPurchaseProbability /= Double(max(1, summary.users))
        summary.meanNoEventProbability /= Double(max(1, summary.users))
        return summary
    }
}
