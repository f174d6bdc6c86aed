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

    /// The hour-by-hour formula agrees with a brute-force minute-by-minute integration of the same model,
    /// with the cutoff week's multiplier known (the truth), drawn from a Gamma posterior (the reachable
    /// truth) or, on a week boundary, from the prior.
    @Test(arguments: [25, 28])
    func formulaMatchesBruteForceIntegration(cutoffDay: Int) {
        let config = SynthConfiguration(users: 20, days: 42, seed: 5)
        let shoppers = SyntheticShoppers(config)
        let model = config.model
        for user in 0..<4 {
            let traits = shoppers.traits(ofUser: user)
            var weekly = shoppers.weeklyActivity(ofUser: user)
            let known: Double? = cutoffDay % 7 == 0 ? nil : { weekly.advance(to: cutoffDay / 7); return weekly.multiplier }()
            let laws: [WeekMultiplier] = (known.map { [.known($0)] } ?? [.prior(shape: model.weeklyActivityShape)])
                + [.gamma(shape: 4, rate: 3.5)]
            for (law, thinning) in laws.flatMap({ law in [1.0, 0.2].map { (law, $0) } }) {
                let formula = shoppers.noSessionProbability(
                    traits: traits, thinning: thinning, cutoffWeek: law, cutoffDay: cutoffDay, horizonDays: 14)
                // Midpoint rule over minutes.
                let step = 1.0 / 1440
                let hazard = traits.churnHazardPerDay
                var perWeek = [Double](repeating: 0, count: 8)
                var integral = 0.0
                func g() -> Double {
                    var log = 0.0
                    for (week, accumulated) in perWeek.enumerated() {
                        if week == cutoffDay / 7, case .known(let m) = law {
                            log -= m * accumulated
                        } else if week == cutoffDay / 7, case .gamma(let shape, let rate) = law {
                            log -= shape * Foundation.log1p(accumulated / rate)
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
                #expect(abs(formula - brute) < 1e-6, "user \(user), \(law): \(formula) vs \(brute)")
            }
        }
    }

    @Test func truthFileHasAHeaderAndOneRowPerUser() async throws {
        let config = SynthConfiguration(users: 50, days: 30, seed: 9, labelCutoffDay: 16)
        var bytes: [UInt8] = []
        let (_, summary) = try await SyntheticShoppers(config).generate(
            write: { _ in }, truth: TruthRequest(topItems: 5) { bytes.append(contentsOf: $0) })
        let rows = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let header = rows[0].map(String.init)
        #expect(rows.count == 51)
        #expect(header.prefix(6) == ["user_id", "cutoff", "horizon_days", "active_at_cutoff", "p_purchase", "p_no_event"])
        #expect(header[20] == "affinity_grocery" && header[21...23] == ["p_active_reachable", "p_purchase_reachable", "p_no_event_reachable"])
        #expect(header.count == 24 + 2 * 5)
        #expect(header.suffix(4) == ["next_item_4", "p_next_item_4", "next_item_5", "p_next_item_5"])
        #expect(summary.users == 50 && summary.cutoff == "2026-01-17")
        let itemID = try Regex(#"^item-[0-7][0-9]{4}$"#)
        var inactive = 0
        for row in rows.dropFirst() {
            #expect(row.count == header.count)
            #expect(row[1] == "2026-01-17" && row[2] == "14")
            let p = Double(row[4])!, q = Double(row[5])!
            #expect((0...1).contains(p) && (0...1).contains(q))
            let affinity = row[13..<21].map { Double($0)! }
            #expect(abs(affinity.reduce(0, +) - 1) < 1e-4)
            let next = row.suffix(10)
            if row[3] == "0" {
                inactive += 1
                #expect(next.allSatisfy { $0.isEmpty }, "no next item for a user churned before the cutoff")
                continue
            }
            let items = stride(from: next.startIndex, to: next.endIndex, by: 2).map { String(next[$0]) }
            let probabilities = stride(from: next.startIndex + 1, to: next.endIndex, by: 2).map { Double(next[$0])! }
            #expect(items.allSatisfy { $0.wholeMatch(of: itemID) != nil } && Set(items).count == 5)
            #expect(zip(probabilities, probabilities.dropFirst()).allSatisfy { $0 >= $1 } && probabilities.reduce(0, +) <= 1)
        }
        #expect(inactive == summary.users - summary.activeAtCutoff)
        #expect(rows[1][0] == "user-000000" && rows[50][0] == "user-000049")
    }

    /// The next-item truth is calibrated: over users seen before the cutoff with a view in the horizon
    /// (2,500 users × 60 days, seed 4, cutoff day 46), the number whose actual first view is in the truth's
    /// top 10 is within 4 standard errors (√Σ m(1−m)) of the sum of the top-10 masses m, and the truth's
    /// probability of the actual item sums to within 4 standard errors of its expectation Σ p_i². Both
    /// read the truth file and the events, not the generator's own tallies; the summary must agree.
    @Test func nextItemTruthIsCalibrated() async throws {
        let config = SynthConfiguration(users: 2500, days: 60, seed: 4, labelCutoffDay: 46)
        let shoppers = SyntheticShoppers(config)
        var events: [UInt8] = []
        var truthBytes: [UInt8] = []
        let (_, summary) = try await shoppers.generate(
            write: { events.append(contentsOf: $0) }, truth: TruthRequest(topItems: 10) { truthBytes.append(contentsOf: $0) })
        let cutoff = epochSeconds(config.start.adding(days: 46)) / 86400
        var seenBefore = Set<String>()
        var firstView: [String: String] = [:]
        for event in try parse(events) {
            if event.day < cutoff { seenBefore.insert(event.user) }
            if event.day >= cutoff && event.day < cutoff + 14 && event.type == "view" && firstView[event.user] == nil {
                firstView[event.user] = event.item
            }
        }
        var users = 0
        var hits = 0.0, mass = 0.0, massVariance = 0.0
        var targetProbability = 0.0, expectedProbability = 0.0, probabilityVariance = 0.0
        for line in String(decoding: truthBytes, as: UTF8.self).split(separator: "\n").dropFirst() {
            let row = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard seenBefore.contains(row[0]), let target = firstView[row[0]] else { continue }
            let next = row.suffix(20)
            let items = stride(from: next.startIndex, to: next.endIndex, by: 2).map { next[$0] }
            let p = stride(from: next.startIndex + 1, to: next.endIndex, by: 2).map { Double(next[$0])! }
            users += 1
            let m = p.reduce(0, +)
            mass += m
            massVariance += m * (1 - m)
            if let position = items.firstIndex(of: target) {
                hits += 1
                targetProbability += p[position]
            }
            let second = p.reduce(0) { $0 + $1 * $1 }
            expectedProbability += second
            probabilityVariance += p.reduce(0) { $0 + $1 * $1 * $1 } - second * second
        }
        #expect(users > 1200)
        #expect(abs(hits - mass) <= 4 * massVariance.squareRoot(), "hits \(hits), expected \(mass) of \(users)")
        #expect(
            abs(targetProbability - expectedProbability) <= 4 * probabilityVariance.squareRoot(),
            "p(actual) \(targetProbability), expected \(expectedProbability)")
        #expect(summary.nextItem.users == users && summary.nextItem.k == 10)
        #expect(abs(summary.nextItem.recall - mass / Double(users)) < 1e-5)
        #expect(abs(summary.nextItem.truthHitRate - hits / Double(users)) < 1e-12)
        #expect(summary.nextItem.ndcg < summary.nextItem.recall && summary.nextItem.mrr < summary.nextItem.ndcg)
        // The standalone replay gives the rows' lists.
        for user in [0, 7, 123] {
            let replayed = shoppers.nextItemTruth(ofUser: user, cutoffDay: 46, top: 10).map { shoppers.itemID($0.item) }
            let row = String(decoding: truthBytes, as: UTF8.self).split(separator: "\n")[user + 1].split(separator: ",", omittingEmptySubsequences: false)
            guard row[3] == "1" else { continue }
            let next = row.suffix(20)
            #expect(replayed == stride(from: next.startIndex, to: next.endIndex, by: 2).map { String(next[$0]) })
        }
    }
}
