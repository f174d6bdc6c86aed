import Dispatch
import Synchronization
import VeilCore
import VeilStore

/// The exact answers of a query after contribution bounding, before any noise. Never leaves the
/// service: only noisy releases computed from it do.
struct BoundedAggregate: Sendable, Equatable {
    /// Group keys: the plan's public keys first, then keys found in the data (candidates for selection).
    var keys: [String]
    var publicCount: Int
    /// Kept contributions per group (count_events, and the count of a mean).
    var counts: [Int64]
    /// Users kept per group (count_users, and partition selection).
    var users: [Int64]
    /// Exact fixed-point sums of kept, clamped values per group.
    var sums: [Int64]
    /// Kept contributions per group and bin.
    var bins: [[Int64]]
}

extension BoundedAggregate {
    /// The same aggregate with the keys found in the data sorted by their bytes (`ExactText.order`) after
    /// the public ones: the order the data happened to show them in (which differs between events and
    /// counts, and between stores) never reaches the release, whose selection noise is drawn in key order.
    func keysFoundInOrder() -> BoundedAggregate {
        guard keys.count > publicCount + 1 else { return self }
        let order = Array(0..<publicCount) + (publicCount..<keys.count).sorted { ExactText.order(keys[$0], keys[$1]) < 0 }
        return BoundedAggregate(
            keys: order.map { keys[$0] }, publicCount: publicCount, counts: order.map { counts[$0] },
            users: order.map { users[$0] }, sums: order.map { sums[$0] }, bins: bins.isEmpty ? [] : order.map { bins[$0] })
    }
}

extension BoundedAggregate {
    /// The aggregate of disjoint sets of users bounded apart (`QueryEngine`'s count lanes): the public
    /// keys in their order, then every key found in any part, by name; each group's counts, users, sums
    /// and bins added up. Bounding is per user and the totals are sums over users, so this is the
    /// aggregate one bounder would have made of every part's rows.
    static func merged(_ parts: [BoundedAggregate]) -> BoundedAggregate {
        guard parts.count > 1 else { return parts[0] }
        let first = parts[0]
        let publicKeys = Array(first.keys.prefix(first.publicCount))
        // Keys are their bytes (`ExactText`), as the stores group them; found keys in byte order.
        let foundTexts: [String] = parts.flatMap { part in Array(part.keys[part.publicCount...]) }
        let found = Set(foundTexts.map { ExactText($0) }).map(\.text).sorted { ExactText.order($0, $1) < 0 }
        let keys = publicKeys + found
        var position: [ExactText: Int] = [:]
        for (index, key) in found.enumerated() { position[ExactText(key)] = publicKeys.count + index }
        let binCount = first.bins.first?.count ?? 0
        var result = BoundedAggregate(
            keys: keys, publicCount: first.publicCount, counts: Array(repeating: 0, count: keys.count),
            users: Array(repeating: 0, count: keys.count), sums: Array(repeating: 0, count: keys.count),
            bins: first.bins.isEmpty ? [] : Array(repeating: Array(repeating: 0, count: binCount), count: keys.count))
        for part in parts {
            for (index, key) in part.keys.enumerated() {
                // A public key keeps its index; a key found in the data is never a public key's name.
                let target = index < part.publicCount ? index : position[ExactText(key)]!
                result.counts[target] += part.counts[index]
                result.users[target] += part.users[index]
                result.sums[target] += part.sums[index]
                if !part.bins.isEmpty {
                    for bin in part.bins[index].indices { result.bins[target][bin] += part.bins[index][bin] }
                }
            }
        }
        return result
    }
}

/// Reads events once, filters them, bounds each user's contributions and aggregates per group.
///
/// A plan without a value (`count_events`, `count_users`) is answered from the store's counts per
/// (pseudonym, group) (`QueryPlan.countRequest`, `EventScanning.countEvents`) instead of its events:
/// counting, the bounder keeps the same groups and counts whatever the order or split of what it is
/// offered (`ContributionBounder`), so the bounded aggregate — and with the same generator the
/// released answer — is the same bit for bit as from the events. Values are bounded from events.
enum QueryEngine {
    /// The bounded aggregate of `plan` over `events`, sampling with the secret `key`. The store reads
    /// only what `plan.eventFilter` admits (the days of the date range, the types asked for); with
    /// `pushDown`, a plan that counts reads the store's counts per (pseudonym, group) instead.
    ///
    /// Counts are bounded in `CountLanes.count` lanes, each user's rows always in the same one, and a
    /// chunk of at least `parallelRows` rows in every lane at once (the store hands a whole-store count
    /// its rows in a few large chunks, once its readers are done).
    static func aggregate(
        _ plan: QueryPlan, events: any EventScanning, key: (UInt64, UInt64), pushDown: Bool = true,
        parallelRows: Int = CountLanes.parallelRows
    ) async throws -> BoundedAggregate {
        if pushDown, let request = plan.countRequest {
            let lanes = CountLanes(plan: plan, key: key, parallelRows: parallelRows)
            try await events.countEvents(request) { rows in lanes.consume(rows) }
            return lanes.finish()
        }
        let accumulator = Accumulator(State(plan: plan, key: key))
        try await events.scanEvents(plan.eventFilter) { chunk in accumulator.state.withLock { $0.consume(chunk) } }
        return accumulator.state.withLock { $0.finish() }
    }

    /// The aggregation's state, handed chunk by chunk by the scan (one chunk at a time).
    private final class Accumulator: Sendable {
        let state: Mutex<State>
        init(_ state: State) { self.state = Mutex(state) }
    }

    /// The bounding of a count's rows (per pseudonym and group, `EventScanning.countEvents`) in lanes
    /// that run at once: a user's rows always go to the lane `lane(of:)` gives, whose bounder sees all
    /// of them; lanes hold disjoint users, so their aggregates add up (`BoundedAggregate.merged`) to
    /// what one bounder makes of every row — bit for bit, as bounding counts is per user and does not
    /// depend on the order of a user's rows (`ContributionBounder`). In a chunk of `parallelRows` rows
    /// or more, each lane bounds its users' rows on its own thread (`concurrentPerform`: the caller
    /// runs a lane itself, and both if no other thread comes); smaller chunks are bounded lane by lane.
    final class CountLanes: Sendable {
        /// Two lanes: `lane(of:)` is one bit of a hash.
        static let count = 2
        /// The rows below which a chunk is not worth a second thread.
        static let parallelRows = 16_384

        private let lanes: [Accumulator]
        private let parallelRows: Int

        fileprivate init(plan: QueryPlan, key: (UInt64, UInt64), parallelRows: Int) {
            lanes = (0..<Self.count).map { _ in Accumulator(State(plan: plan, key: key)) }
            self.parallelRows = parallelRows
        }

        /// The lane of every row of `pseudonym`: a bit of a multiplicative hash of both halves.
        static func lane(of pseudonym: Pseudonym) -> Int {
            Int(truncatingIfNeeded: ((pseudonym.high ^ pseudonym.low) &* 0xD6E8_FEB8_6659_FD93) >> 63)
        }

        /// Bounds one chunk of rows (chunks come one at a time): each lane reads the whole chunk and
        /// takes its own users' rows (reading twice, at once, costs less than copying the rows apart).
        func consume(_ rows: [PseudonymGroupCount]) {
            if rows.count >= parallelRows {
                DispatchQueue.concurrentPerform(iterations: Self.count) { lane in lanes[lane].state.withLock { $0.consume(rows, lane: lane) } }
            } else {
                for lane in lanes.indices { lanes[lane].state.withLock { $0.consume(rows, lane: lane) } }
            }
        }

        /// The aggregate of every lane.
        func finish() -> BoundedAggregate {
            .merged(lanes.map { lane in lane.state.withLock { $0.finish() } })
        }
    }

    private struct OrderKey: Hashable {
        var user: Pseudonym
        var session: Pseudonym
    }

    private struct Order {
        var value: Double
        var quantity: Int64
        var firstMillis: Int64
    }

    private struct State {
        let plan: QueryPlan
        var bounder: ContributionBounder
        var keys: [String]
        /// Group ids of the keys by name (categories or items), by their bytes as the stores compare them.
        var keyIDs: [ExactText: Int32] = [:]
        /// Up to 16 public category keys, compared directly (by their bytes, `ExactText.same`) before the dictionary.
        let knownCategories: [String]
        var typeAllowed: [Bool]
        var typeGroup: [Int32]
        let from: Int64
        let to: Int64
        /// How the plan groups, and the key of its first calendar group (0 for hours and weekdays).
        let grouping: EventGrouping
        let firstCalendarKey: Int64
        var orders: [OrderKey: Order] = [:]
        /// Contributions waiting to be offered to the bounder in one batch.
        var pending: [ContributionBounder.Contribution] = []
        static let batchSize = 512

        init(plan: QueryPlan, key: (UInt64, UInt64)) {
            self.plan = plan
            keys = plan.publicKeys
            let storesValues = plan.value != nil
            bounder = ContributionBounder(
                maxGroups: plan.maxGroups, maxContributions: plan.maxContributions, storesValues: storesValues, key: key)
            var groupOfType = [Int32](repeating: -1, count: EventType.allCases.count)
            for type in EventType.allCases {
                if let position = plan.publicKeys.firstIndex(of: type.rawValue) { groupOfType[type.index] = Int32(position) }
            }
            for name in plan.publicKeys { bounder.register(tag: ContributionBounder.tag(of: name)) }
            typeAllowed = plan.typeAllowed
            typeGroup = groupOfType
            knownCategories = plan.groupBy == .category ? Array(plan.publicKeys.prefix(16)) : []
            if plan.groupBy == .category {
                for (position, name) in plan.publicKeys.enumerated() { keyIDs[ExactText(name)] = Int32(position) }
            }
            from = plan.fromMillis ?? .min
            to = plan.toMillis ?? .max
            grouping = plan.grouping
            // Day and week keys start at `from`'s (both required); hours and weekdays at 0.
            firstCalendarKey = plan.fromMillis.map { plan.groupBy == .day || plan.groupBy == .week ? plan.grouping.number(ofMillis: $0) : 0 } ?? 0
            pending.reserveCapacity(Self.batchSize)
        }

        @inline(__always)
        mutating func offer(_ user: Pseudonym, _ group: Int32, _ value: Int64, count: Int32 = 1) {
            pending.append(ContributionBounder.Contribution(user: user, group: group, count: count, value: value))
            if pending.count == Self.batchSize { flush() }
        }

        mutating func flush() {
            pending.withUnsafeBufferPointer { bounder.add($0) }
            pending.removeAll(keepingCapacity: true)
        }

        /// The group of a key found in the data: a public key's, or (when the plan selects partitions) a
        /// new candidate group; nil when the key is in no group.
        mutating func keyID(_ key: String) -> Int32? {
            let exact = ExactText(key)
            if let id = keyIDs[exact] { return id }
            guard plan.selectsPartitions else { return nil }
            let id = Int32(keys.count)
            keys.append(key)
            keyIDs[exact] = id
            bounder.register(tag: ContributionBounder.tag(of: key))
            return id
        }

        /// The group of an event or order at `millis`, or nil when it falls in no group.
        @inline(__always)
        mutating func group(type: EventType, category: String?, item: String?, millis: Int64) -> Int32? {
            switch plan.groupBy {
            case nil:
                return 0
            case .type:
                let group = typeGroup[type.index]
                return group >= 0 ? group : nil
            case .category:
                guard let category else { return nil }
                // Public categories first by direct comparison (cheap for short strings), then the dictionary.
                for (position, known) in knownCategories.enumerated() where ExactText.same(known, category) { return Int32(position) }
                return keyID(category)
            case .item:
                guard let item else { return nil }
                return keyID(item)
            case .day, .week, .hourOfDay, .weekday:
                return calendarGroup(grouping.number(ofMillis: millis))
            }
        }

        /// The group of a calendar key (`EventGrouping.number(ofMillis:)`), or nil outside the keys.
        @inline(__always)
        func calendarGroup(_ number: Int64) -> Int32? {
            let index = number - firstCalendarKey
            return index >= 0 && index < Int64(plan.publicKeys.count) ? Int32(index) : nil
        }

        /// The group of a store-side key (`EventGrouping.key(of:)` for `plan.grouping`), or nil.
        mutating func group(of key: EventGroupKey) -> Int32? {
            switch (plan.groupBy, key) {
            case (nil, _):
                return 0
            case (.type, .text(let name)):
                guard let type = EventType(rawValue: name) else { return nil }
                let group = typeGroup[type.index]
                return group >= 0 ? group : nil
            case (.category, .text(let category)):
                for (position, known) in knownCategories.enumerated() where ExactText.same(known, category) { return Int32(position) }
                return keyID(category)
            case (.item, .text(let item)):
                return keyID(item)
            case (.day, .number(let number)), (.week, .number(let number)), (.hourOfDay, .number(let number)),
                (.weekday, .number(let number)):
                return calendarGroup(number)
            default:
                return nil
            }
        }

        /// Counts per (pseudonym, group) from the store, the rows of the users of count lane `lane`
        /// (`CountLanes.lane(of:)`) only: each row offered as its count of contributions.
        mutating func consume(_ rows: [PseudonymGroupCount], lane: Int) {
            for row in rows where row.count > 0 && CountLanes.lane(of: row.pseudonym) == lane {
                guard let group = group(of: row.key) else { continue }
                offer(row.pseudonym, group, 0, count: Int32(min(row.count, Int64(Int32.max))))
            }
        }

        @inline(__always)
        func fixed(_ value: Double) -> Int64 {
            let clamped = min(max(value, plan.lower), plan.upper)
            let scaled = Int64((clamped * Double(plan.value!.scale)).rounded())
            return min(max(scaled, plan.lowerFixed), plan.upperFixed)
        }

        mutating func consume(_ chunk: [StoredEvent]) {
            chunk.withUnsafeBufferPointer { events in
                for index in events.indices { consume(events, index) }
            }
        }

        /// One event, read field by field from the chunk (no copy of the whole event).
        @inline(__always)
        mutating func consume(_ events: UnsafeBufferPointer<StoredEvent>, _ index: Int) {
            let type = events[index].type
            let millis = events[index].timestampMillis
            guard typeAllowed[type.index], millis >= from, millis < to else { return }
            if let filter = plan.categoryFilter {
                guard let category = events[index].category, filter.contains(ExactText(category)) else { return }
            }
            switch plan.value {
            case nil:
                if let group = group(type: type, category: events[index].category, item: events[index].itemID, millis: millis) {
                    offer(events[index].pseudonym, group, 0)
                }
            case .revenue:
                guard let price = events[index].price, let group = group(type: type, category: events[index].category, item: events[index].itemID, millis: millis)
                else { return }
                offer(events[index].pseudonym, group, fixed(price * Double(events[index].quantity ?? 1)))
            case .quantity:
                guard let group = group(type: type, category: events[index].category, item: events[index].itemID, millis: millis) else { return }
                offer(events[index].pseudonym, group, fixed(Double(events[index].quantity ?? 1)))
            case .orderValue, .basketSize:
                let price = events[index].price
                if plan.value == .orderValue && price == nil { return }
                let quantity = Int64(events[index].quantity ?? 1)
                let value = (price ?? 0) * Double(quantity)
                let user = events[index].pseudonym
                guard let session = events[index].session else {
                    addOrder(user: user, Order(value: value, quantity: quantity, firstMillis: millis))
                    return
                }
                let key = OrderKey(user: user, session: session)
                if var order = orders[key] {
                    order.value += value
                    order.quantity += quantity
                    order.firstMillis = min(order.firstMillis, millis)
                    orders[key] = order
                } else {
                    orders[key] = Order(value: value, quantity: quantity, firstMillis: millis)
                }
            }
        }

        mutating func addOrder(user: Pseudonym, _ order: Order) {
            guard let group = group(type: .purchase, category: nil, item: nil, millis: order.firstMillis) else { return }
            let value = plan.value == .orderValue ? order.value : Double(order.quantity)
            offer(user, group, fixed(value))
        }

        mutating func finish() -> BoundedAggregate {
            // Orders in a fixed order, so the sample does not depend on dictionary layout.
            for (key, order) in orders.sorted(by: { ($0.key.user, $0.key.session) < ($1.key.user, $1.key.session) }) {
                addOrder(user: key.user, order)
            }
            orders = [:]
            flush()
            let count = keys.count
            let binCount = max(0, plan.binEdges.count - 1)
            var result = BoundedAggregate(
                keys: keys, publicCount: plan.publicKeys.count,
                counts: Array(repeating: 0, count: count), users: Array(repeating: 0, count: count),
                sums: Array(repeating: 0, count: count),
                bins: binCount > 0 ? Array(repeating: Array(repeating: 0, count: binCount), count: count) : [])
            let scale = Double(plan.value?.scale ?? 1)
            let edges = plan.binEdges
            bounder.forEachKept { group, kept, values in
                let g = Int(group)
                result.counts[g] += Int64(kept)
                result.users[g] += 1
                for value in values { result.sums[g] += value }
                if binCount > 0 {
                    for value in values { result.bins[g][Self.bin(Double(value) / scale, edges: edges)] += 1 }
                }
            }
            return result.keysFoundInOrder()
        }

        /// Bin i is [eᵢ, eᵢ₊₁); values below the first edge go to the first bin, at or above the last to the last.
        static func bin(_ value: Double, edges: [Double]) -> Int {
            var low = 0
            var high = edges.count - 2
            if value < edges[1] { return 0 }
            if value >= edges[high] { return high }
            while low < high {
                let middle = (low + high + 1) / 2
                if edges[middle] <= value { low = middle } else { high = middle - 1 }
            }
            return low
        }
    }
}
