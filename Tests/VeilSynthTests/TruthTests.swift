import Foundation
import Testing
@testable import VeilSynth

@Suite struct TruthTests {
    /// The truth probabilities are calibrated: over users active at the cutoff, the mean of p_purchase and of
    /// p_no_event is within 4 standard errors (sqrt(Σ p(1−p))/n) of the empirical horizon frequency.
    /// Cases: cutoff in the middle of a week (its multiplier is conditioned on), on a week boundary (all
    /// horizon multipliers integrated out), and without weekly variation.
    @Test(arguments: [(25, 1.0), (28, 1.0), (25, Double.infinity)])
    func meanTruthMatchesEmpiricalHorizonFrequency(cutoffDay: Int, weeklyShape: Double) throws {
        var config = SynthConfiguration(users: 2000, days: 42, seed: 3, labelCutoffDay: cutoffDay)
        config.model.weeklyActivityShape = weeklyShape
        let shoppers = SyntheticShoppers(config)
        var buffer = ByteBuffer()
        var scratch = UserScratch()
        var active = 0
        var purchase = (predicted: 0.0, variance: 0.0, observed: 0)
        var noEvent = (predicted: 0.0, variance: 0.0, observed: 0)
        for user in 0..<config.users {
            let truth = shoppers.truth(ofUser: user, cutoffDay: cutoffDay, horizonDays: 14)
            #expect((0...1).contains(truth.purchaseProbability) && (0...1).contains(truth.noEventProbability))
            #expect(truth.purchaseProbability <= 1 - truth.noEventProbability + 1e-12, "a purchase is an event")
            buffer.removeAll()
            let tally = shoppers.writeUser(user, into: &buffer, scratch: &scratch, cutoffDay: cutoffDay)
            guard truth.activeAtCutoff else {
                #expect(truth.purchaseProbability == 0 && truth.noEventProbability == 1)
                #expect(!tally.eventInHorizon)
                continue
            }
            active += 1
            let p = truth.purchaseProbability
            let q = truth.noEventProbability
            purchase.predicted += p
            purchase.variance += p * (1 - p)
            purchase.observed += tally.purchaseInHorizon ? 1 : 0
            noEvent.predicted += q
            noEvent.variance += q * (1 - q)
            noEvent.observed += tally.eventInHorizon ? 0 : 1
        }
        #expect(active > 1200)
        for (name, stats) in [("purchase", purchase), ("no event", noEvent)] {
            let gap = abs(stats.predicted - Double(stats.observed)) / Double(active)
            let standardError = stats.variance.squareRoot() / Double(active)
            #expect(gap <= 4 * standardError, "\(name): mean truth \(stats.predicted / Double(active)), observed \(Double(stats.observed) / Double(active))")
        }
    }

    /// The hour-by-hour formula agrees with a brute-force minute-by-minute integration of the same model.
    @Test(arguments: [25, 28])
    func formulaMatchesBruteForceIntegration(cutoffDay: Int) {
        let config = SynthConfiguration(users: 20, days: 42, seed: 5)
        let shoppers = SyntheticShoppers(config)
        let model = config.model
        for user in 0..<4 {
            let traits = shoppers.traits(ofUser: user)
            var weekly = shoppers.weeklyActivity(ofUser: user)
            let known: Double? = cutoffDay % 7 == 0 ? nil : { weekly.advance(to: cutoffDay / 7); return weekly.multiplier }()
            for thinning in [1.0, 0.2] {
                let formula = shoppers.noSessionProbability(
                    traits: traits, thinning: thinning, knownMultiplier: known, cutoffDay: cutoffDay, horizonDays: 14)
                // Midpoint rule over minutes.
                let step = 1.0 / 1440
                let hazard = traits.churnHazardPerDay
                var perWeek = [Double](repeating: 0, count: 8)
                var integral = 0.0
                func g() -> Double {
                    var log = 0.0
                    for (week, accumulated) in perWeek.enumerated() {
                        if let known, week == cutoffDay / 7 {
                            log -= known * accumulated
                        } else {
                            log -= model.weeklyActivityShape * Foundation.log1p(accumulated / model.weeklyActivityShape)
                        }
                    }
                    return Foundation.exp(log)
                }
                for minute in 0..<(14 * 1440) {
                    let day = cutoffDay + minute / 1440
                    let hour = minute % 1440 / 60
                    let intensity = traits.sessionsPerDay * model.normalisedWeekdayWeights[config.start.adding(days: day).weekday]
                        * model.normalisedHourWeights[hour] * 24 * thinning
                    let s = (Double(minute) + 0.5) * step
                    perWeek[day / 7] += intensity * step / 2
                    integral += hazard * Foundation.exp(-hazard * s) * g() * step
                    perWeek[day / 7] += intensity * step / 2
                }
                let brute = integral + Foundation.exp(-hazard * 14) * g()
                #expect(abs(formula - brute) < 1e-6, "user \(user): \(formula) vs \(brute)")
            }
        }
    }

    @Test func truthFileHasAHeaderAndOneRowPerUser() throws {
        let config = SynthConfiguration(users: 50, days: 30, seed: 9)
        var bytes: [UInt8] = []
        let summary = try SyntheticShoppers(config).writeTruth(cutoffDay: 16, horizonDays: 14) { bytes.append(contentsOf: $0) }
        let rows = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let header = rows[0].map(String.init)
        #expect(rows.count == 51)
        #expect(header.prefix(6) == ["user_id", "cutoff", "horizon_days", "active_at_cutoff", "p_purchase", "p_no_event"])
        #expect(header.last == "affinity_grocery")
        #expect(summary.users == 50 && summary.cutoff == "2026-01-17")
        for row in rows.dropFirst() {
            #expect(row.count == header.count)
            #expect(row[1] == "2026-01-17" && row[2] == "14")
            let p = Double(row[4])!, q = Double(row[5])!
            #expect((0...1).contains(p) && (0...1).contains(q))
            let affinity = row.suffix(8).map { Double($0)! }
            #expect(abs(affinity.reduce(0, +) - 1) < 1e-4)
        }
        #expect(rows[1][0] == "user-000000" && rows[50][0] == "user-000049")
    }
}
