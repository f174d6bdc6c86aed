import Foundation
import Testing
import VeilTestSupport
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilLedger
@testable import VeilQueries

/// Statistical checks of the released noise, on generated data with fixed seeds. Each test bounds the
/// data once and releases it many times (the release is the cheap part).
///
/// Tolerances come from the number of (group, repetition) pairs n, not from one random stream:
/// - coverage in [0.93, 0.97]: ±2 points is ±5 standard errors of a 95% coverage at n ≥ 2,800;
/// - the RMS error over the RMS stated sd within 4 standard errors of 1, the standard error estimated
///   from the sample (`Outcome.rmsStandardError`);
/// - the mean absolute error within 6% of the E|noise| the stated distribution implies.
@Suite struct QueryStatisticsTests {
    static let events = ShopData.events(users: 2_000, seed: 7)
    static let receipt = BudgetReceipt(spendID: 0, epsilon: 0, delta: 0, cumulativeEpsilon: 0, remainingEpsilon: 0)

    /// Errors and stated sds of many releases, pooled over groups and repetitions.
    struct Outcome {
        var n = 0.0
        var covered = 0.0
        var squares = 0.0
        var fourths = 0.0
        var statedVariance = 0.0
        var absolutes = 0.0
        var expectedAbsolutes = 0.0

        mutating func add(error: Double, sd: Double, covered inside: Bool, expectedAbsolute: Double) {
            n += 1
            if inside { covered += 1 }
            squares += error * error
            fourths += error * error * error * error
            statedVariance += sd * sd
            absolutes += abs(error)
            expectedAbsolutes += expectedAbsolute
        }

        var coverage: Double { covered / n }
        /// √(Σ error² / Σ sd²): 1 when the stated sds describe the errors (each release's own sd, so it
        /// also holds when the sd differs between groups or releases, as a mean's does).
        var rmsOverSD: Double { (squares / statedVariance).squareRoot() }
        /// The standard error of `rmsOverSD` from the sample: the mean square has relative standard error
        /// √((E e⁴ − (E e²)²) / n) / E e², and the square root halves it.
        var rmsStandardError: Double {
            let meanSquare = squares / n
            let variance = max(0, fourths / n - meanSquare * meanSquare)
            return 0.5 * (variance / n).squareRoot() / meanSquare * rmsOverSD
        }
        var maeOverExpected: Double { absolutes / expectedAbsolutes }

        /// The checks every noisy-value test makes.
        func expectCalibrated(checkAbsolute: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect((0.93...0.97).contains(coverage), "coverage \(coverage)", sourceLocation: sourceLocation)
            #expect(
                abs(rmsOverSD - 1) < 4 * rmsStandardError, "rms/sd \(rmsOverSD) ± \(rmsStandardError)", sourceLocation: sourceLocation)
            if checkAbsolute {
                #expect(abs(maeOverExpected - 1) < 0.06, "mae ratio \(maeOverExpected)", sourceLocation: sourceLocation)
            }
        }
    }

    /// The true bounded answer of group `index`, in answer units.
    static func truth(_ plan: QueryPlan, _ aggregate: BoundedAggregate, _ index: Int) -> Double {
        let scale = Double(plan.value?.scale ?? 1)
        switch plan.metric {
        case .countEvents: return Double(aggregate.counts[index])
        case .countUsers: return Double(aggregate.users[index])
        case .sum: return Double(aggregate.sums[index]) / scale
        case .mean: return Double(aggregate.sums[index]) / scale / Double(aggregate.counts[index])
        default: fatalError("not tested here")
        }
    }

    /// E|X| for the plan's metric noise: exact for the discrete Laplace (2p / (1 − p²)), σ√(2/π) for the
    /// Gaussian. Not defined for a mean (a ratio).
    static func expectedAbsoluteError(_ plan: QueryPlan, sd: Double) -> Double {
        let part = plan.parts[0]
        let unit = Double(part.unit) / Double(plan.metric == .sum ? plan.value!.scale : 1)
        switch plan.noise {
        case .laplace:
            let p = exp(-1 / part.parameter.doubleValue)
            return 2 * p / (1 - p * p) * unit
        case .gaussian:
            return sd * (2 / Double.pi).squareRoot()
        }
    }

    /// Releases `spec` `repetitions` times and pools, over groups and repetitions, the error of
    /// `measured` (by default the released value) against the true bounded answer.
    static func run(
        _ spec: QuerySpec, repetitions: Int, seed: UInt64, measured: (QueryAnswer.Group) -> Double = { $0.estimate!.value! }
    ) async throws -> Outcome {
        let plan = try QueryPlan(spec, policy: ShopData.policy())
        let aggregate = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: events), key: (11, 12))
        var generator = ChaChaNoiseGenerator(seed: seed)
        var outcome = Outcome()
        for _ in 0..<repetitions {
            let answer = QueryRelease.answer(plan: plan, aggregate: aggregate, receipt: receipt, using: &generator)
            #expect(answer.groups.count == plan.publicKeys.count)
            for (index, group) in answer.groups.enumerated() {
                let estimate = group.estimate!
                let truth = truth(plan, aggregate, index)
                let sd = estimate.noiseSD!
                outcome.add(
                    error: measured(group) - truth, sd: sd, covered: estimate.low <= truth && truth <= estimate.high,
                    expectedAbsolute: plan.metric == .mean ? 0 : expectedAbsoluteError(plan, sd: sd))
            }
        }
        return outcome
    }

    @Test func laplaceCountsByHour() async throws {
        let outcome = try await Self.run(QuerySpec(metric: "count_events", groupBy: "hour_of_day", epsilon: 1), repetitions: 200, seed: 1)
        outcome.expectCalibrated()
    }

    @Test func gaussianRevenueSumsByWeekday() async throws {
        let outcome = try await Self.run(
            QuerySpec(metric: "sum", value: "revenue", groupBy: "weekday", epsilon: 1, mechanism: "gaussian"), repetitions: 500, seed: 2)
        outcome.expectCalibrated()
    }

    /// Small σ: the exact discrete-Gaussian interval (summed pmf) is used.
    @Test func gaussianUserCountsByDay() async throws {
        let spec = QuerySpec(
            metric: "count_users", groupBy: "day", from: "2026-11-02", to: "2026-11-08", epsilon: 2, mechanism: "gaussian")
        let outcome = try await Self.run(spec, repetitions: 500, seed: 3)
        outcome.expectCalibrated()
    }

    /// Means: noisy sum / noisy count, its sd by the delta method at the noisy values
    /// (`QueryRelease.mean`); here the noisy count's relative sd is about 11%. Each release is compared
    /// with its own stated sd, which differs between groups and releases. The released value is
    /// clamped to the bounds, which only shrinks its error, so the sd is checked on the unclamped ratio
    /// S/C and is an upper bound for the value. Over seeds 1…8 the ratio's RMS/sd was 0.97–1.06
    /// (standard errors 0.02–0.03), the clamped value's 0.71–0.84, coverage 0.948–0.962.
    @Test func laplaceMeanRevenueByWeekday() async throws {
        let spec = QuerySpec(metric: "mean", value: "revenue", groupBy: "weekday", epsilon: 1)
        let released = try await Self.run(spec, repetitions: 400, seed: 4)
        let ratio = try await Self.run(spec, repetitions: 400, seed: 4) { $0.sum!.value! / $0.count!.value! }
        #expect((0.93...0.97).contains(released.coverage), "coverage \(released.coverage)")
        #expect(abs(ratio.rmsOverSD - 1) < 4 * ratio.rmsStandardError, "ratio rms/sd \(ratio.rmsOverSD) ± \(ratio.rmsStandardError)")
        #expect(released.rmsOverSD < 1 + 4 * released.rmsStandardError, "value rms/sd \(released.rmsOverSD)")
    }

    /// A median read off a noisy histogram of 100 bins of 0.50 (`QueryRelease.quantile`), over 1,000
    /// releases. The tolerance comes from the mechanism: with independent bin noise of sd σ, the noisy
    /// CDF crosses q·total where (1 − q)·A − q·B moves the rank, A and B the noise summed over the j bins
    /// up to the median's and the K − j after it, so the rank error has sd σ√((1 − q)²j + q²(K − j)),
    /// and the value error that divided by the data's density at the median (delta method; ignores the
    /// clipping of negative counts and the interpolation within a bin). The RMS error must match it
    /// within 4 standard errors; the interval (documented as approximate, from bin edges) must cover
    /// the true bounded median at least 95% of the time.
    /// Over seeds 1…8: RMS / predicted 0.975–1.023 (standard error ≈ 0.024), coverage 0.997–1.000.
    @Test func medianOrderValueMatchesItsRankNoise() async throws {
        var random = SplitMix64(seed: 5)
        var events: [StoredEvent] = []
        var prices: [Double] = []
        for index in 0..<3_000 {
            let price = Double(Int.random(in: 0...5_000, using: &random)) / 100
            prices.append(price)
            events.append(
                ShopData.event(ShopData.user(index), index, type: .purchase, millis: ShopData.weekStart, category: "books", price: price, quantity: 1))
        }
        prices.sort()
        let truth = prices[prices.count / 2 - 1]
        let q = 0.5
        let plan = try QueryPlan(QuerySpec(metric: "quantile", value: "revenue", quantile: q, epsilon: 1), policy: ShopData.policy())
        let aggregate = try await QueryEngine.aggregate(plan, events: InMemoryEvents(events: events), key: (1, 2))
        let bins = aggregate.bins[0]
        let width = plan.binEdges[1] - plan.binEdges[0]
        let j = Double(Int((truth - plan.binEdges[0]) / width) + 1)
        let binSD = QueryRelease.spread(plan.parts[0], noise: plan.noise).sd
        let rankSD = binSD * ((1 - q) * (1 - q) * j + q * q * (Double(bins.count) - j)).squareRoot()
        let density = Double(bins[Int(j) - 1]) / width
        let predicted = rankSD / density

        var generator = ChaChaNoiseGenerator(seed: 6)
        var outcome = Outcome()
        for _ in 0..<1_000 {
            let answer = QueryRelease.answer(plan: plan, aggregate: aggregate, receipt: Self.receipt, using: &generator)
            let median = try #require(answer.groups[0].estimate)
            #expect(median.low <= median.value! && median.value! <= median.high)
            #expect(answer.groups[0].bins?.count == 100)
            outcome.add(error: median.value! - truth, sd: predicted, covered: median.low <= truth && truth <= median.high, expectedAbsolute: 0)
        }
        #expect(outcome.coverage >= 0.95, "coverage \(outcome.coverage)")
        #expect(abs(outcome.rmsOverSD - 1) < 4 * outcome.rmsStandardError, "rms/predicted \(outcome.rmsOverSD) ± \(outcome.rmsStandardError)")
    }
}
