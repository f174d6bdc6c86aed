import VeilCore

/// Turns one user's events into a `UserExample`: features from the observation window, the outcome from
/// the horizon. One example per user, so a guarantee about examples is a guarantee about users.
///
/// Contract: `example(for:)` takes all of one user's events (any order, any time) and returns nil when
/// the user has no event in the observation window (nothing to predict from).
public struct FeatureExtractor: Sendable {
    public let schema: FeatureSchema
    public let window: FeatureWindow
    /// The policy's categories by their bytes (`ExactText`), as the stores and queries compare them.
    private let categoryIndex: [ExactText: Int]
    /// For each of the schema's features, its place in the tally's list (`FeatureSchema.computable`):
    /// a model's schema names the features it reads, those of the build that trained it.
    private let columns: [Int]

    /// Precondition: the schema names only features this build computes (a decoded schema is checked
    /// when it is decoded; `FeatureSchema(policy:)` names exactly those).
    public init(schema: FeatureSchema, window: FeatureWindow) {
        self.schema = schema
        self.window = window
        categoryIndex = Dictionary(uniqueKeysWithValues: schema.categories.enumerated().map { (ExactText($1), $0) })
        let computable = Dictionary(
            FeatureSchema.computable(categories: schema.categories).enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        columns = schema.features.map { feature in
            guard let column = computable[feature.name] else { preconditionFailure("the schema names a feature this build does not compute") }
            return column
        }
    }

    public func example(for events: some Collection<StoredEvent>) -> UserExample? {
        guard let first = events.first else { return nil }
        var tally = Tally(categoryCount: schema.categories.count)
        var outcome = OutcomeTally(window: window)
        let start = window.observationStart ?? .min
        for event in events {
            let time = event.timestampMillis
            if time >= start && time < window.cutoff {
                tally.add(event, categoryIndex: event.category.flatMap { categoryIndex[ExactText($0)] }, cutoff: window.cutoff)
            } else {
                outcome.add(event, categoryIndex: categoryIndex)
            }
        }
        guard tally.events > 0 else { return nil }
        let raw = tally.rawFeatures(cutoff: window.cutoff)
        let features = zip(schema.features, columns).map { $0.scale(raw[$1]) }
        return UserExample(pseudonym: first.pseudonym, features: features, outcome: outcome.outcome)
    }
}

/// What happened in a window's label horizon `[cutoff, horizonEnd)`, built one event at a time (events
/// outside the horizon are ignored): shared by every extractor so the labels mean the same everywhere.
struct OutcomeTally {
    let window: FeatureWindow
    private(set) var outcome = Outcome(purchased: false, churned: true, nextCategory: nil)
    private var firstPurchase = Int64.max
    /// The first event with an item in the horizon (`StoredEvent.precedes` order).
    private var firstItem: StoredEvent?

    init(window: FeatureWindow) { self.window = window }

    mutating func add(_ event: StoredEvent, categoryIndex: [ExactText: Int]) {
        let time = event.timestampMillis
        guard time >= window.cutoff && time < window.horizonEnd else { return }
        outcome.churned = false
        if let item = event.itemID, firstItem.map({ event.precedes($0) }) ?? true {
            firstItem = event
            outcome.nextItem = item
        }
        guard event.type == .purchase else { return }
        outcome.purchased = true
        if time < firstPurchase {
            firstPurchase = time
            outcome.nextCategory = event.category.flatMap { categoryIndex[ExactText($0)] }
        }
    }
}

/// Running totals for one user's observation window, in the order `FeatureSchema.computable` lists
/// features.
private struct Tally {
    var events = 0
    var perType = [Double](repeating: 0, count: EventType.allCases.count)
    /// Each session's slot in `sessionCategoryEvents`.
    var sessions: [Pseudonym: Int] = [:]
    /// Categorised events per session and category, `categoryCount` values a session.
    var sessionCategoryEvents: [Double] = []
    /// Categorised events without a session, per category: each is a session of its own.
    var unsessionedCategoryEvents: [Double]
    /// Distinct item IDs by their bytes, as the stores tell items apart (`ExactText`).
    var items = Set<ExactText>()
    var categories = Set<Int>()
    var firstTime = Int64.max
    var lastTime = Int64.min
    var lastPurchase = Int64.min
    var spend = 0.0
    var orders = 0
    var last7 = 0.0
    var last30 = 0.0
    var categoryEvents: [Double]
    var categorised = 0.0
    var timeOfDay = [Double](repeating: 0, count: FeatureSchema.TimeOfDay.allCases.count)
    var weekend = 0.0

    init(categoryCount: Int) {
        categoryEvents = [Double](repeating: 0, count: categoryCount)
        unsessionedCategoryEvents = categoryEvents
    }

    mutating func add(_ event: StoredEvent, categoryIndex: Int?, cutoff: Int64) {
        let time = event.timestampMillis
        events += 1
        perType[event.type.index] += 1
        var sessionSlot: Int?
        if let session = event.session {
            if let slot = sessions[session] {
                sessionSlot = slot
            } else {
                sessionSlot = sessions.count
                sessions[session] = sessions.count
                sessionCategoryEvents.append(contentsOf: repeatElement(0, count: categoryEvents.count))
            }
        }
        if let item = event.itemID { items.insert(ExactText(item)) }
        firstTime = min(firstTime, time)
        lastTime = max(lastTime, time)
        if event.type == .purchase {
            lastPurchase = max(lastPurchase, time)
            spend += (event.price ?? 0) * Double(event.quantity ?? 1)
            orders += 1
        }
        let ageDays = Double(cutoff - time) / Double(FeatureWindow.millisPerDay)
        if ageDays <= 7 { last7 += 1 }
        if ageDays <= 30 { last30 += 1 }
        if let categoryIndex {
            categories.insert(categoryIndex)
            categoryEvents[categoryIndex] += 1
            categorised += 1
            if let sessionSlot {
                sessionCategoryEvents[sessionSlot * categoryEvents.count + categoryIndex] += 1
            } else {
                unsessionedCategoryEvents[categoryIndex] += 1
            }
        }
        let secondsOfDay = Int((time / 1000) % 86_400 + 86_400) % 86_400
        let hour = secondsOfDay / 3600
        timeOfDay[FeatureSchema.TimeOfDay.allCases.firstIndex(of: FeatureSchema.TimeOfDay(hour: hour))!] += 1
        // 1970-01-01 was a Thursday: day 0 → weekday index 3 (Monday = 0).
        let day = Int((time / FeatureWindow.millisPerDay) % 7 + 7) % 7
        if (day + 3) % 7 >= 5 { weekend += 1 }
    }

    func rawFeatures(cutoff: Int64) -> [Double] {
        let day = Double(FeatureWindow.millisPerDay)
        let count = Double(events)
        let views = perType[EventType.view.index]
        let carts = perType[EventType.addToCart.index]
        let purchases = perType[EventType.purchase.index]
        let returns = perType[EventType.return.index]
        var raw = perType
        raw += [Double(sessions.count), Double(items.count), Double(categories.count)]
        raw.append(Double(cutoff - lastTime) / day)
        // No purchase yet: as far back as the bound allows.
        raw.append(lastPurchase == .min ? .infinity : Double(cutoff - lastPurchase) / day)
        raw.append(Double(cutoff - firstTime) / day)
        raw.append(spend)
        raw.append(orders > 0 ? spend / Double(orders) : 0)
        raw.append(views > 0 ? carts / views : 0)
        raw.append(carts > 0 ? purchases / carts : 0)
        raw.append(purchases > 0 ? returns / purchases : 0)
        raw += [last7, last30]
        raw += categoryEvents.map { categorised > 0 ? $0 / categorised : 0 }
        raw += timeOfDay.map { $0 / count }
        raw.append(weekend / count)
        raw += sessionCategoryShares()
        return raw
    }

    /// `FeatureSchema.sessionCategoryShare` for every category: each session with categorised events
    /// weighs 1, split as its events are; an unsessioned categorised event weighs 1 alone.
    func sessionCategoryShares() -> [Double] {
        let width = categoryEvents.count
        var shares = unsessionedCategoryEvents
        var visits = unsessionedCategoryEvents.reduce(0, +)
        guard width > 0 else { return shares }
        for start in stride(from: 0, to: sessionCategoryEvents.count, by: width) {
            let session = sessionCategoryEvents[start..<start + width]
            let total = session.reduce(0, +)
            guard total > 0 else { continue }
            for (category, events) in session.enumerated() { shares[category] += events / total }
            visits += 1
        }
        return visits > 0 ? shares.map { $0 / visits } : shares
    }
}
