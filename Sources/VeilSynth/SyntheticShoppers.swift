import VeilCore
import Foundation

/// What to generate: how many users, over which days, from which seed, under which model.
public struct SynthConfiguration: Sendable {
    /// Number of users (≥ 1); user `i` is `user-` followed by `i` zero-padded to at least 6 digits.
    public var users: Int
    /// Length of the dataset in whole UTC days (≥ 1); no event is at or after `start + days`.
    public var days: Int
    public var seed: UInt64
    /// The first day (00:00:00 UTC).
    public var start: CivilDate
    public var model: ShopperModel
    /// Cutoff for the label tallies in the summary, in days after `start`; nil: `days − labelHorizonDays`
    /// when that is ≥ 0 (no tallies otherwise).
    public var labelCutoffDay: Int?
    /// Horizon of the labels, in days.
    public var labelHorizonDays: Int

    public init(
        users: Int, days: Int, seed: UInt64, start: CivilDate = CivilDate(year: 2026, month: 1, day: 1)!,
        model: ShopperModel = .standard, labelCutoffDay: Int? = nil, labelHorizonDays: Int = 14
    ) {
        self.users = users
        self.days = days
        self.seed = seed
        self.start = start
        self.model = model
        self.labelCutoffDay = labelCutoffDay
        self.labelHorizonDays = labelHorizonDays
    }

    /// The cutoff day the summary's label tallies use, if any.
    var effectiveCutoffDay: Int? {
        let cutoff = labelCutoffDay ?? (days - labelHorizonDays)
        return cutoff >= 0 && cutoff + labelHorizonDays <= days ? cutoff : nil
    }
}

/// Counts from one generation run; `veil generate --json` prints it.
public struct GenerationSummary: Sendable, Codable, Equatable {
    public var users = 0
    public var events = 0
    public var sessions = 0
    /// Purchase events (one per purchased cart line).
    public var purchases = 0
    /// Sessions that ended in a purchase.
    public var orders = 0
    public var returns = 0
    public var reviews = 0
    /// Users with at least one event.
    public var activeUsers = 0
    /// Users whose churn time falls inside the dataset.
    public var churnedUsers = 0
    /// Label tallies at `labelCutoff` (nil when the dataset is shorter than the horizon).
    public var labels: LabelTally?

    /// Empirical labels: among users with ≥ 1 event before the cutoff, how many purchase / have no event
    /// in the `horizonDays` days from the cutoff.
    public struct LabelTally: Sendable, Codable, Equatable {
        public var cutoff: String
        public var horizonDays: Int
        /// Users with at least one event before the cutoff: the population a model would score.
        public var usersSeenBeforeCutoff = 0
        public var purchaseLabelPositives = 0
        public var churnLabelPositives = 0
        public var purchaseLabelRate: Double {
            usersSeenBeforeCutoff == 0 ? 0 : Double(purchaseLabelPositives) / Double(usersSeenBeforeCutoff)
        }
        public var churnLabelRate: Double {
            usersSeenBeforeCutoff == 0 ? 0 : Double(churnLabelPositives) / Double(usersSeenBeforeCutoff)
        }

        enum CodingKeys: String, CodingKey {
            case cutoff
            case horizonDays = "horizon_days"
            case usersSeenBeforeCutoff = "users_seen_before_cutoff"
            case purchaseLabelPositives = "purchase_label_positives"
            case churnLabelPositives = "churn_label_positives"
            case purchaseLabelRate = "purchase_label_rate"
            case churnLabelRate = "churn_label_rate"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(cutoff, forKey: .cutoff)
            try container.encode(horizonDays, forKey: .horizonDays)
            try container.encode(usersSeenBeforeCutoff, forKey: .usersSeenBeforeCutoff)
            try container.encode(purchaseLabelPositives, forKey: .purchaseLabelPositives)
            try container.encode(churnLabelPositives, forKey: .churnLabelPositives)
            try container.encode(purchaseLabelRate, forKey: .purchaseLabelRate)
            try container.encode(churnLabelRate, forKey: .churnLabelRate)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            cutoff = try container.decode(String.self, forKey: .cutoff)
            horizonDays = try container.decode(Int.self, forKey: .horizonDays)
            usersSeenBeforeCutoff = try container.decode(Int.self, forKey: .usersSeenBeforeCutoff)
            purchaseLabelPositives = try container.decode(Int.self, forKey: .purchaseLabelPositives)
            churnLabelPositives = try container.decode(Int.self, forKey: .churnLabelPositives)
        }

        init(cutoff: String, horizonDays: Int) {
            self.cutoff = cutoff
            self.horizonDays = horizonDays
        }
    }

    enum CodingKeys: String, CodingKey {
        case users, events, sessions, purchases, orders, returns, reviews, labels
        case activeUsers = "active_users"
        case churnedUsers = "churned_users"
    }

    mutating func add(_ tally: UserTally, cutoffDay: Int?) {
        users += 1
        events += tally.events
        sessions += tally.sessions
        purchases += tally.purchases
        orders += tally.orders
        returns += tally.returns
        reviews += tally.reviews
        if tally.events > 0 { activeUsers += 1 }
        if tally.churned { churnedUsers += 1 }
        if cutoffDay != nil, tally.seenBeforeCutoff {
            labels?.usersSeenBeforeCutoff += 1
            if tally.purchaseInHorizon { labels?.purchaseLabelPositives += 1 }
            if !tally.eventInHorizon { labels?.churnLabelPositives += 1 }
        }
    }
}

/// Per-user counts gathered while writing.
struct UserTally {
    var events = 0
    var sessions = 0
    var purchases = 0
    var orders = 0
    var returns = 0
    var reviews = 0
    var churned = false
    var seenBeforeCutoff = false
    var eventInHorizon = false
    var purchaseInHorizon = false
    /// The item of the first view in the horizon, −1 if none: the next-item target.
    var firstViewInHorizon = -1
    /// The sessions before the cutoff, as far as the reachable truth needs them.
    var history = SessionHistory()
}

/// Synthetic e-commerce shoppers: a documented generative model (docs/synthetic-data.md) written out as
/// NDJSON events, plus each user's true horizon probabilities (`truth(ofUser:cutoffDay:horizonDays:)`).
///
/// Everything is a pure function of the configuration: the same seed gives the same bytes. User `i`
/// draws from its own random streams, so its events do not depend on `users` and users are generated in
/// parallel. Output is grouped by user (in index order); each user's events are in timestamp order, but
/// the file as a whole is not globally time-sorted. The data is synthetic test data: user IDs are
/// made-up raw IDs, not pseudonyms.
public struct SyntheticShoppers: Sendable {
    public let configuration: SynthConfiguration
    let rootKey: [UInt64]
    /// `YYYY-MM-DDT` for each day, 11 bytes per day.
    let dayPrefixes: [UInt8]
    /// Normalised weekday weight of each day of the dataset.
    let dayWeights: [Double]
    let hourWeights: [Double]
    /// Cumulative hour weights, 25 entries from 0 to 1.
    let hourCumulative: [Double]
    let lastHour: Int
    let catalog: ItemCatalog
    /// Item choice and memory parameters.
    let rule: ItemChoiceRule
    let categoryNames: [[UInt8]]
    /// Search queries by category (ASCII, no characters that need JSON escaping).
    let queries: [[[UInt8]]]
    let userIDWidth: Int
    let seedText: String

    public init(_ configuration: SynthConfiguration) {
        precondition(configuration.users >= 1 && configuration.days >= 1, "users and days must be ≥ 1")
        let model = configuration.model
        precondition(model.hourWeights.count == 24 && model.hourWeights.last == 0, "hour 23 must have weight 0")
        precondition(model.weekdayWeights.count == 7, "seven weekday weights")
        let categories = ShopperCatalog.categories.count
        precondition(
            [model.categoryPopularity.count, model.returnProbability.count, model.medianPrice.count, model.consumableLineShare.count]
                .allSatisfy { $0 == categories },
            "one popularity, return probability, median price and consumable line share per category")
        precondition(model.rolePriceFactor.count == ItemRole.allCases.count, "one price factor per item role")
        self.configuration = configuration
        rootKey = ShopperRandom.rootKey(seed: configuration.seed)
        var prefixes: [UInt8] = []
        prefixes.reserveCapacity(configuration.days * 11)
        let weekday = model.normalisedWeekdayWeights
        var weights: [Double] = []
        for day in 0..<configuration.days {
            let date = configuration.start.adding(days: day)
            prefixes += date.isoBytes
            prefixes.append(UInt8(ascii: "T"))
            weights.append(weekday[date.weekday])
        }
        dayPrefixes = prefixes
        dayWeights = weights
        hourWeights = model.normalisedHourWeights
        var cumulative = [0.0]
        for weight in hourWeights { cumulative.append(cumulative.last! + weight) }
        cumulative[24] = 1
        hourCumulative = cumulative
        lastHour = hourWeights.lastIndex(where: { $0 > 0 })!
        catalog = ItemCatalog(model: model)
        rule = ItemChoiceRule(model)
        categoryNames = ShopperCatalog.categories.map { Array($0.utf8) }
        queries = Catalog.queries.map { $0.map { Array($0.utf8) } }
        userIDWidth = max(6, String(configuration.users - 1).count)
        seedText = String(configuration.seed)
    }

    /// The raw synthetic user ID of user `index`, e.g. `user-000123`.
    public func userID(_ index: Int) -> String {
        let digits = String(index)
        return "user-" + String(repeating: "0", count: max(0, userIDWidth - digits.count)) + digits
    }

    /// The catalogue ID of item index `item` (`k·itemsPerCategory + j` → `item-KNNNN`).
    public func itemID(_ item: Int) -> String {
        var buffer = ByteBuffer(capacity: 16)
        buffer.itemID(item)
        return String(decoding: buffer.array, as: UTF8.self)
    }

    /// The latent traits of user `index` (drawn from the user's own trait stream).
    public func traits(ofUser index: Int) -> ShopperTraits {
        var random = ShopperRandom(rootKey: rootKey, user: UInt64(index), purpose: 0)
        return ShopperTraits(model: configuration.model, random: &random)
    }

    /// The user's weekly activity multipliers m_w ~ Gamma(k, 1/k), drawn in week order from their own stream.
    func weeklyActivity(ofUser index: Int) -> WeeklyActivity {
        WeeklyActivity(
            random: ShopperRandom(rootKey: rootKey, user: UInt64(index), purpose: 2),
            shape: configuration.model.weeklyActivityShape)
    }

    /// The NDJSON bytes of one user's events.
    public func events(ofUser index: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        var scratch = UserScratch()
        _ = writeUser(index, into: &buffer, scratch: &scratch, cutoffDay: nil)
        return buffer.array
    }

    /// Generates every user's events in order and hands the NDJSON bytes to `write` in chunks; returns the
    /// counts. `progress` is called with the number of users done after each chunk. Uses all cores;
    /// the bytes do not depend on how many.
    public func generate(
        write: (UnsafeRawBufferPointer) throws -> Void, progress: ((Int) -> Void)? = nil
    ) async throws -> GenerationSummary {
        try await generate(write: write, truth: nil, progress: progress).events
    }

    /// Generates the events as `generate(write:progress:)` does and, at the same time, the truth file
    /// (docs/synthetic-data.md, "Labels and the truth file") for the configuration's label window: one
    /// CSV row per user in index order, handed to `truth.write` in chunks after a header.
    public func generate(
        write: (UnsafeRawBufferPointer) throws -> Void, truth: TruthRequest, progress: ((Int) -> Void)? = nil
    ) async throws -> (events: GenerationSummary, truth: TruthSummary) {
        let (events, truthSummary) = try await generate(write: write, truth: Optional(truth), progress: progress)
        return (events, truthSummary!)
    }

    private func generate(
        write: (UnsafeRawBufferPointer) throws -> Void, truth: TruthRequest?, progress: ((Int) -> Void)?
    ) async throws -> (events: GenerationSummary, truth: TruthSummary?) {
        let users = configuration.users
        let blockSize = 256
        let blocks = (users + blockSize - 1) / blockSize
        let cutoffDay = configuration.effectiveCutoffDay
        let horizonDays = configuration.labelHorizonDays
        let maxInFlight = max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)
        var summary = GenerationSummary()
        var truthSummary: TruthSummary?
        var cutoffBytes: [UInt8] = []
        if let cutoffDay {
            let cutoff = configuration.start.adding(days: cutoffDay).description
            summary.labels = .init(cutoff: cutoff, horizonDays: horizonDays)
            cutoffBytes = Array(cutoff.utf8)
            if let truth {
                truthSummary = TruthSummary(cutoff: cutoff, horizonDays: horizonDays, k: min(TruthRequest.summaryK, truth.topItems))
            }
        }
        let top = truth?.topItems ?? 0
        if let truth {
            guard cutoffDay != nil, (1...TruthRequest.maxTopItems).contains(top) else {
                throw VeilError(
                    .invalidInput, field: "truth",
                    "needs a cutoff with the horizon inside the dataset and 1 … \(TruthRequest.maxTopItems) next items, not \(top)")
            }
            try Array((Self.truthHeader(top: top) + "\n").utf8).withUnsafeBytes(truth.write)
        }
        try await withThrowingTaskGroup(of: Chunk.self) { group in
            var next = 0
            var waiting: [Int: Chunk] = [:]
            var written = 0
            func submit() {
                let block = next
                next += 1
                group.addTask { [self, cutoffBytes] in
                    let chunk = Chunk(block: block)
                    var scratch = UserScratch()
                    for user in (block * blockSize)..<min(users, (block + 1) * blockSize) {
                        let tally = writeUser(user, into: &chunk.buffer, scratch: &scratch, cutoffDay: cutoffDay)
                        chunk.tallies.append(tally)
                        if top > 0, let cutoffDay {
                            let row = truthRow(user, tally: tally, scratch: scratch, cutoffDay: cutoffDay, horizonDays: horizonDays, top: top)
                            appendTruthLine(row, cutoff: cutoffBytes, horizonDays: horizonDays, top: top, to: &chunk.truthBuffer)
                            chunk.truthRows.append(row)
                        }
                    }
                    return chunk
                }
            }
            while next < min(blocks, maxInFlight) { submit() }
            while written < blocks, let chunk = try await group.next() {
                waiting[chunk.block] = chunk
                while let ready = waiting.removeValue(forKey: written) {
                    try ready.buffer.withBytes(write)
                    for tally in ready.tallies { summary.add(tally, cutoffDay: cutoffDay) }
                    if let truth {
                        try ready.truthBuffer.withBytes(truth.write)
                        for row in ready.truthRows { truthSummary?.add(row) }
                    }
                    written += 1
                    progress?(min(users, written * blockSize))
                    if next < blocks { submit() }
                }
            }
        }
        truthSummary?.finish()
        return (summary, truthSummary)
    }
}

/// The sequence of a user's weekly activity multipliers (week w = days 7w ..< 7w + 7 after the start).
struct WeeklyActivity {
    var random: ShopperRandom
    let shape: Double
    private(set) var week = -1
    private(set) var multiplier = 1.0

    init(random: ShopperRandom, shape: Double) {
        self.random = random
        self.shape = shape
    }

    /// Moves to `week` (≥ the current week), drawing the multipliers of the weeks passed.
    mutating func advance(to target: Int) {
        while week < target {
            multiplier = shape.isFinite ? random.gamma(shape: shape) / shape : 1
            week += 1
        }
    }
}

/// One block of users' output, passed from a generating task to the writer.
final class Chunk: @unchecked Sendable {
    let block: Int
    var buffer = ByteBuffer(capacity: 1 << 22)
    var tallies: [UserTally] = []
    var truthBuffer = ByteBuffer(capacity: 1 << 12)
    var truthRows: [TruthRow] = []

    init(block: Int) { self.block = block }
}
