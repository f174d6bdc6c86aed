import Foundation
import Testing
@testable import VeilSynth

@Suite struct ReachableTruthTests {
    /// The reachable probabilities are the posterior given the traits and the sessions before the cutoff,
    /// so they are calibrated within any group chosen by what they are conditioned on: over 3,000 users ×
    /// 42 days, in each of three bins of p_active_reachable (< 0.5, 0.5–0.9, ≥ 0.9) the sum of
    /// p_active_reachable is within 4 standard errors (√Σ p(1−p)) of the number of users whose churn time
    /// is after the cutoff; likewise p_no_event_reachable and p_purchase_reachable against the horizon's
    /// labels, binned by themselves (< 0.2, 0.2–0.5, ≥ 0.5) and grouped by the sessions of the cutoff's
    /// week before it (0, 1, 2 or more: what the cutoff week's multiplier is inferred from). Cases as the
    /// truth's: cutoff inside a week, on a week boundary, and without weekly variation, with a 14-day
    /// horizon; and a 3-day horizon inside the cutoff's week, whose multiplier then runs all of it.
    @Test(arguments: [(25, 14, 1.0), (28, 14, 1.0), (25, 14, Double.infinity), (25, 3, 1.0)])
    func reachableProbabilitiesAreCalibratedWithinTheirOwnBins(cutoffDay: Int, horizonDays: Int, weeklyShape: Double) {
        var config = SynthConfiguration(
            users: 3000, days: 42, seed: 11, labelCutoffDay: cutoffDay, labelHorizonDays: horizonDays)
        config.model.weeklyActivityShape = weeklyShape
        let shoppers = SyntheticShoppers(config)
        var buffer = ByteBuffer()
        var scratch = UserScratch()
        var active = CalibrationTally(bounds: [0.5, 0.9])
        var noEvent = CalibrationTally(bounds: [0.2, 0.5])
        var purchase = CalibrationTally(bounds: [0.2, 0.5])
        var noEventByWeek = CalibrationTally(groups: 3)
        var purchaseByWeek = CalibrationTally(groups: 3)
        var churnedBeforeCutoff = 0
        for user in 0..<config.users {
            buffer.removeAll()
            let tally = shoppers.writeUser(user, into: &buffer, scratch: &scratch, cutoffDay: cutoffDay)
            let traits = shoppers.traits(ofUser: user)
            let reachable = shoppers.reachableTruth(traits: traits, history: tally.history, cutoffDay: cutoffDay, horizonDays: horizonDays)
            #expect((0...1).contains(reachable.activeProbability))
            #expect(reachable.purchaseProbability <= 1 - reachable.noEventProbability + 1e-12, "a purchase is an event")
            #expect(reachable.noEventProbability >= 1 - reachable.activeProbability - 1e-12, "a churned user has no event")
            let isActive = traits.churnDay > Double(cutoffDay)
            if !isActive { churnedBeforeCutoff += 1 }
            active.add(reachable.activeProbability, outcome: isActive)
            noEvent.add(reachable.noEventProbability, outcome: !tally.eventInHorizon)
            purchase.add(reachable.purchaseProbability, outcome: tally.purchaseInHorizon)
            let history = tally.history
            let cutoffWeekSessions = history.lastDay >= 0 && history.lastDay / 7 == cutoffDay / 7 ? history.sessionsInLastWeek : 0
            noEventByWeek.add(reachable.noEventProbability, outcome: !tally.eventInHorizon, group: min(2, cutoffWeekSessions))
            purchaseByWeek.add(reachable.purchaseProbability, outcome: tally.purchaseInHorizon, group: min(2, cutoffWeekSessions))
        }
        #expect(churnedBeforeCutoff > 100, "enough churned users for the active bins to mean something")
        var tallies = [("active", active), ("no event", noEvent), ("purchase", purchase)]
        if cutoffDay % 7 != 0 { tallies += [("no event by cutoff week", noEventByWeek), ("purchase by cutoff week", purchaseByWeek)] }
        for (name, tally) in tallies {
            for bin in tally.bins where bin.users >= 50 {
                #expect(
                    abs(bin.predicted - bin.observed) <= 4 * bin.variance.squareRoot(),
                    "\(name), \(bin.users) users: predicted \(bin.predicted), observed \(bin.observed)")
            }
            #expect(tally.bins.filter { $0.users >= 50 }.count >= 2, "\(name): at least two groups are populated")
        }
    }

    /// The hour-by-hour posterior of the churn time agrees with a brute-force integration minute by minute
    /// of the same formula, for users whose last session is inside the cutoff's week, weeks before it,
    /// or absent, with and without weekly variation.
    @Test(arguments: [1.0, Double.infinity])
    func activeProbabilityMatchesBruteForceIntegration(weeklyShape: Double) {
        var config = SynthConfiguration(users: 20, days: 42, seed: 5)
        config.model.weeklyActivityShape = weeklyShape
        let shoppers = SyntheticShoppers(config)
        let model = config.model
        let cutoffDay = 25
        let histories = [
            SessionHistory(lastDay: 23, lastDayShare: 0.37, sessionsInLastWeek: 3),
            SessionHistory(lastDay: 9, lastDayShare: 0.82, sessionsInLastWeek: 1),
            SessionHistory(lastDay: 13, lastDayShare: 0.05, sessionsInLastWeek: 6),
            SessionHistory(),
        ]
        for user in 0..<3 {
            let traits = shoppers.traits(ofUser: user)
            for history in histories {
                let formula = shoppers.activeProbability(traits: traits, history: history, cutoffDay: cutoffDay)
                // Midpoint rule over minutes from the start; before the last session only the week's exposure counts.
                let hazard = traits.churnHazardPerDay
                let step = 1.0 / 1440
                let last = history.lastDay < 0 ? 0.0 : Double(history.lastDay) + lastSessionHourOffset(history, model) / 24
                var exposure = [Double](repeating: 0, count: 6)
                func logG() -> Double {
                    exposure.enumerated().reduce(0.0) { total, entry in
                        let sessions = history.lastDay >= 0 && entry.offset == history.lastDay / 7 ? Double(history.sessionsInLastWeek) : 0
                        let k = model.weeklyActivityShape
                        return total + (k.isFinite ? -(k + sessions) * Foundation.log1p(entry.element / k) : -entry.element)
                    }
                }
                var churnedBefore = 0.0
                var logGAtLast = 0.0
                var passedLast = false
                for minute in 0..<(cutoffDay * 1440) {
                    let day = minute / 1440
                    let hour = minute % 1440 / 60
                    let intensity = traits.sessionsPerDay * model.normalisedWeekdayWeights[config.start.adding(days: day).weekday]
                        * model.normalisedHourWeights[hour] * 24
                    let from = Double(minute) * step
                    let to = from + step
                    if to <= last {
                        if day / 7 == max(0, history.lastDay) / 7 { exposure[day / 7] += intensity * step }
                        continue
                    }
                    let start = max(from, last)
                    let length = to - start
                    if !passedLast {
                        if day / 7 == max(0, history.lastDay) / 7 { exposure[day / 7] += intensity * (start - from) }
                        logGAtLast = logG()
                        passedLast = true
                    }
                    exposure[day / 7] += intensity * length / 2
                    churnedBefore += hazard * Foundation.exp(-hazard * (start + length / 2 - last) + logG() - logGAtLast) * length
                    exposure[day / 7] += intensity * length / 2
                }
                let activeWeight = Foundation.exp(-hazard * (Double(cutoffDay) - last) + logG() - logGAtLast)
                let brute = activeWeight / (activeWeight + churnedBefore)
                #expect(abs(formula - brute) < 2e-5, "user \(user), history \(history): \(formula) vs \(brute)")
            }
        }
    }

    /// The truth file carries the reachable columns, equal to a standalone replay of the user, and a user
    /// churned before the cutoff still gets them (the events cannot tell it is gone).
    @Test func truthFileRowsMatchTheReplay() async throws {
        let config = SynthConfiguration(users: 60, days: 40, seed: 9, labelCutoffDay: 26)
        let shoppers = SyntheticShoppers(config)
        var bytes: [UInt8] = []
        let (_, summary) = try await shoppers.generate(write: { _ in }, truth: TruthRequest(topItems: 2) { bytes.append(contentsOf: $0) })
        let rows = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let header = rows[0].map(String.init)
        let columns = ["p_active_reachable", "p_purchase_reachable", "p_no_event_reachable"].map { header.firstIndex(of: $0)! }
        var meanPurchase = 0.0
        var churnedRows = 0
        for user in 0..<config.users {
            let row = rows[user + 1]
            let replay = shoppers.reachableTruth(ofUser: user, cutoffDay: 26, horizonDays: 14)
            let written = columns.map { Double(row[$0])! }
            let expected = [replay.activeProbability, replay.purchaseProbability, replay.noEventProbability]
            #expect(zip(written, expected).allSatisfy { abs($0 - $1) <= 5e-7 }, "user \(user): \(written) vs \(expected)")
            meanPurchase += replay.purchaseProbability
            if row[3] == "0" {
                churnedRows += 1
                #expect(written[0] < 1, "the events cannot be sure a churned user is gone")
            }
        }
        #expect(churnedRows > 0)
        #expect(abs(summary.meanReachablePurchaseProbability - meanPurchase / Double(config.users)) < 1e-9)
    }
}

/// The hour offset (0 ..< 24) of a history's last session within its day.
private func lastSessionHourOffset(_ history: SessionHistory, _ model: ShopperModel) -> Double {
    let weights = model.normalisedHourWeights
    var cumulative = 0.0
    for (hour, weight) in weights.enumerated() where weight > 0 {
        if history.lastDayShare < cumulative + weight { return Double(hour) + (history.lastDayShare - cumulative) / weight }
        cumulative += weight
    }
    return 23
}

/// Predicted and observed counts of a binary outcome in bins of the prediction, or in groups given with it.
private struct CalibrationTally {
    struct Bin {
        var users = 0
        var predicted = 0.0
        var observed = 0.0
        var variance = 0.0
    }

    let bounds: [Double]
    var bins: [Bin]

    /// Bins of the prediction: below the first bound, …, at or above the last.
    init(bounds: [Double]) {
        self.bounds = bounds
        bins = Array(repeating: Bin(), count: bounds.count + 1)
    }

    /// `groups` groups given with each prediction.
    init(groups: Int) {
        bounds = []
        bins = Array(repeating: Bin(), count: groups)
    }

    mutating func add(_ p: Double, outcome: Bool, group: Int? = nil) {
        let index = group ?? bounds.firstIndex { p < $0 } ?? bounds.count
        bins[index].users += 1
        bins[index].predicted += p
        bins[index].observed += outcome ? 1 : 0
        bins[index].variance += p * (1 - p)
    }
}
