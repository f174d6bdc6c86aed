import Foundation

/// What is known of one week's activity multiplier m_w when a horizon probability is integrated.
enum WeekMultiplier: Equatable {
    /// m_w known exactly (the truth conditions on the multiplier of the cutoff's week).
    case known(Double)
    /// m_w ~ Gamma(shape, rate): the prior Gamma(k, k) (mean 1, variance 1/k), or the posterior
    /// Gamma(k + n, k + B) after n sessions in B of the week's base intensity.
    case gamma(shape: Double, rate: Double)

    /// The prior of a week of which nothing is known: Gamma(k, k), or exactly 1 without weekly variation.
    static func prior(shape k: Double) -> WeekMultiplier { k.isFinite ? .gamma(shape: k, rate: k) : .known(1) }

    /// The law given `sessions` sessions in `exposure` of the week's base intensity (Poisson counts with
    /// mean m·exposure; the Gamma prior is conjugate).
    static func posterior(shape k: Double, sessions: Int, exposure: Double) -> WeekMultiplier {
        k.isFinite ? .gamma(shape: k + Double(sessions), rate: k + exposure) : .known(1)
    }

    /// log E[exp(−m·x)]: the log-probability of no session in `x` of base intensity (the Laplace transform).
    func logLaplace(_ x: Double) -> Double {
        switch self {
        case .known(let m): -m * x
        case .gamma(let shape, let rate): -shape * Foundation.log1p(x / rate)
        }
    }
}

/// 3-point Gauss–Legendre quadrature.
enum GaussLegendre3 {
    /// The nodes and weights on [0, 1]; on an interval of length ℓ both scale by ℓ.
    static let unit: [(node: Double, weight: Double)] = [
        ((1 - (0.6).squareRoot()) / 2, 5.0 / 18), (0.5, 8.0 / 18), ((1 + (0.6).squareRoot()) / 2, 5.0 / 18),
    ]
}

/// What a user's sessions before the cutoff say about the horizon once the traits are known: the time of
/// the last one and how many sessions its week held up to it. Given the traits these are sufficient — the
/// weeks before hold the sessions whatever the churn time (it is after the last session), and what the
/// sessions contain does not depend on the churn time or on any multiplier.
struct SessionHistory: Equatable {
    /// Day of the last session that started before the cutoff; −1 if none did.
    var lastDay = -1
    /// The share of that day's intensity passed when it started (its position in the day's cumulative
    /// intensity, as drawn: before any shift to the end of the previous session).
    var lastDayShare = 0.0
    /// Sessions in the last session's week up to and including it.
    var sessionsInLastWeek = 0

    /// Records a session that started `share` of the way through `day`'s intensity.
    mutating func add(day: Int, share: Double) {
        sessionsInLastWeek = lastDay >= 0 && lastDay / 7 == day / 7 ? sessionsInLastWeek + 1 : 1
        lastDay = day
        lastDayShare = share
    }
}

/// One user's reachable truth: the horizon probabilities given the latent traits and the sessions before
/// the cutoff — what an oracle that knows the traits can infer from the events — instead of the churn
/// time and the cutoff week's multiplier, which the truth knows and the events do not show.
public struct ReachableTruth: Sendable, Equatable {
    /// P(C > c | traits, sessions before c): the user is still active at the cutoff.
    public let activeProbability: Double
    /// P(≥ 1 purchase in the horizon | traits, sessions before c).
    public let purchaseProbability: Double
    /// P(no event in the horizon | traits, sessions before c).
    public let noEventProbability: Double
}

extension SyntheticShoppers {
    /// The reachable truth of user `index` for the horizon of `horizonDays` days from `cutoffDay` (see
    /// docs/synthetic-data.md, "Reachable probabilities"). Replays the user's sessions before the
    /// cutoff; `generate(write:truth:progress:)` computes the same while writing.
    public func reachableTruth(ofUser index: Int, cutoffDay: Int, horizonDays: Int) -> ReachableTruth {
        var buffer = ByteBuffer()
        var scratch = UserScratch()
        let tally = writeUser(index, into: &buffer, scratch: &scratch, cutoffDay: cutoffDay)
        return reachableTruth(traits: traits(ofUser: index), history: tally.history, cutoffDay: cutoffDay, horizonDays: horizonDays)
    }

    /// The horizon probabilities given the traits and the sessions before the cutoff c.
    ///
    /// With the traits known, the unknowns are the churn time C and the multipliers. A week's multiplier,
    /// Gamma(k, 1/k) a priori, integrates out of the Poisson likelihood of n sessions in B of its base
    /// intensity to a factor ∝ (1 + B/k)^−(k+n); so, with t the last session before c (0 if none), the
    /// posterior of the churn time on (t, ∞) is
    ///
    ///     p(C | history) ∝ h e^{−hC} · G(min(C, c)),   G(x) = Π_{weeks from t's on} (1 + B_w(x)/k)^−(k+n_w)
    ///
    /// B_w(x) the week's base intensity before x, n_w its sessions (0 after t's week). P(C > c) follows
    /// from ∫_t^c h e^{−hC} G(C) dC (hour by hour, 3-point Gauss–Legendre) against e^{−hc} G(c). Given
    /// C > c, the cutoff week's multiplier is Gamma(k + n, k + B) — its n sessions in its B before c — and
    /// the horizon probabilities are the truth's formula with that law in place of the known multiplier.
    func reachableTruth(traits: ShopperTraits, history: SessionHistory, cutoffDay: Int, horizonDays: Int) -> ReachableTruth {
        let shape = configuration.model.weeklyActivityShape
        let active = activeProbability(traits: traits, history: history, cutoffDay: cutoffDay)
        let cutoffWeek = cutoffDay / 7
        let sessions = history.lastDay >= 0 && history.lastDay / 7 == cutoffWeek ? history.sessionsInLastWeek : 0
        let exposure = (7 * cutoffWeek..<cutoffDay).reduce(0.0) { $0 + traits.sessionsPerDay * dayWeights[$1] }
        let law = WeekMultiplier.posterior(shape: shape, sessions: sessions, exposure: exposure)
        let pi = traits.purchaseProbabilityPerSession(continueViewing: configuration.model.continueViewing)
        let noEvent = noSessionProbability(traits: traits, thinning: 1, cutoffWeek: law, cutoffDay: cutoffDay, horizonDays: horizonDays)
        let noPurchase = noSessionProbability(traits: traits, thinning: pi, cutoffWeek: law, cutoffDay: cutoffDay, horizonDays: horizonDays)
        return ReachableTruth(
            activeProbability: active,
            purchaseProbability: min(1, max(0, active * (1 - noPurchase))),
            noEventProbability: min(1, max(0, 1 - active + active * noEvent)))
    }

    /// P(C > c | traits, history) (see `reachableTruth(traits:history:cutoffDay:horizonDays:)`).
    func activeProbability(traits: ShopperTraits, history: SessionHistory, cutoffDay: Int) -> Double {
        let hazard = traits.churnHazardPerDay
        let shape = configuration.model.weeklyActivityShape
        let rate = traits.sessionsPerDay
        /// log of a week's factor in G: n sessions, `exposure` of its base intensity passed.
        func logFactor(sessions: Int, exposure: Double) -> Double {
            shape.isFinite ? -(shape + Double(sessions)) * Foundation.log1p(exposure / shape) : -exposure
        }
        // Where the last session was: its day, hour and the share of the hour passed; the base intensity
        // its week had passed by then.
        let firstDay = max(0, history.lastDay)
        var hour = 0
        var hourShare = 0.0
        var weekExposure = (7 * (firstDay / 7)..<firstDay).reduce(0.0) { $0 + rate * dayWeights[$1] }
        if history.lastDay >= 0 {
            let share = history.lastDayShare
            while hour < lastHour && hourCumulative[hour + 1] <= share { hour += 1 }
            hourShare = min(max((share - hourCumulative[hour]) / hourWeights[hour], 0), 1)
            weekExposure += share * rate * dayWeights[firstDay]
        }
        var sessions = max(0, history.sessionsInLastWeek)
        // G is normalised to 1 at the last session; logDone holds the finished weeks' factors.
        let logStart = logFactor(sessions: sessions, exposure: weekExposure)
        var logDone = -logStart
        var week = firstDay / 7
        var integral = 0.0  // ∫_t^c h e^{−h(C − t)} G(C) dC
        var elapsed = 0.0  // C − t at the start of the piece
        for day in firstDay..<cutoffDay {
            if day / 7 != week {
                logDone += logFactor(sessions: sessions, exposure: weekExposure)
                weekExposure = 0
                sessions = 0
                week = day / 7
            }
            for hourOfDay in (day == firstDay ? hour : 0)..<24 {
                let kappa = rate * dayWeights[day] * hourWeights[hourOfDay] * 24  // base intensity per day in this hour
                let length = (day == firstDay && hourOfDay == hour ? 1 - hourShare : 1) / 24
                for (node, weight) in GaussLegendre3.unit {
                    let offset = node * length
                    let logG = logDone + logFactor(sessions: sessions, exposure: weekExposure + kappa * offset)
                    integral += weight * length * hazard * Foundation.exp(logG - hazard * (elapsed + offset))
                }
                weekExposure += kappa * length
                elapsed += length
            }
        }
        // P(churned before c) / P(active) = integral / (e^{−h(c − t)} G(c)).
        let logActive = logDone + logFactor(sessions: sessions, exposure: weekExposure) - hazard * elapsed
        return 1 / (1 + Foundation.exp(Foundation.log(integral) - logActive))
    }
}
