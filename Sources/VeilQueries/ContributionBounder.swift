import VeilCore
import VeilStore

/// Per-user contribution bounding in one pass over events in any order.
///
/// Each user keeps at most `maxGroups` groups and, in each, at most `maxContributions` contributions:
/// - the groups kept are a uniform sample of the user's distinct groups: bottom-k sampling on a keyed
///   hash of (user, group), which needs no memory of the groups dropped (a dropped group's priority is
///   above every kept one and kept priorities only fall, so it can never come back). A group enters the
///   hash by its tag (`tag(of:)`, a hash of its key's name), not by its index, so a user's priorities do
///   not depend on the order in which groups were first seen, nor on other users' events;
/// - the contributions kept in a group are a uniform sample (reservoir sampling, Algorithm R) whose
///   random indices come from a keyed hash of (user, group, position).
///
/// The hash key comes from the query's noise generator, so samples are fresh per query; and one user's
/// sample depends only on that user's own events, so adding or removing a user leaves every other
/// user's sample unchanged (the sensitivity argument, and the test of it, rely on this).
///
/// Counting contributions only (`storesValues` false), what is kept does not depend on the order of
/// the contributions at all: the kept groups are the user's `maxGroups` groups of least priority (a
/// group of the final sample is admitted when first seen and never evicted, so its count is
/// complete), each with min(seen, `maxContributions`) — so a contribution may stand for `count` of
/// them at once (a store's pre-aggregated (user, group, count) rows, `QueryEngine`), and rows split or
/// reordered any way give the same result. The one exception is two groups of one user with equal
/// 64-bit priorities (about G²·2⁻⁶⁵ per user), where the first seen is kept.
///
/// Storage is flat: a pseudonym table (open addressing) gives each user a dense index, and slot
/// arrays hold `maxGroups` slots per user (group, priority, contributions seen) and, when values are
/// needed, `maxContributions` fixed-point values per slot. Nothing is allocated per event.
struct ContributionBounder {
    let maxGroups: Int
    let maxContributions: Int
    let storesValues: Bool
    private let key0: UInt64
    private let key1: UInt64

    private var table = PseudonymTable()
    /// `maxGroups` slots per user, contiguous (one cache line for G = 4).
    private var slots: [Slot] = []
    /// `maxContributions` fixed-point values per slot (value metrics only).
    private var slotValues: [Int64] = []
    /// The hash tag of each group, by group index (`register(tag:)`).
    private var tags: [UInt64] = []

    /// One kept (user, group): the group (−1: empty), its sampling priority and contributions seen.
    private struct Slot {
        var priority: UInt64 = 0
        var group: Int32 = -1
        var seen: Int32 = 0
    }

    init(maxGroups: Int, maxContributions: Int, storesValues: Bool, key: (UInt64, UInt64)) {
        precondition(maxGroups >= 1 && maxContributions >= 1)
        self.maxGroups = maxGroups
        self.maxContributions = maxContributions
        self.storesValues = storesValues
        (key0, key1) = key
    }

    /// One contribution offered to the bounder: `count` contributions of `user` to `group` at once
    /// (counting only; 1 with a value).
    struct Contribution {
        var user: Pseudonym
        var group: Int32
        var count: Int32 = 1
        var value: Int64
    }

    /// Gives the next group index (0, 1, 2, … in order of calls) its tag; every group is registered
    /// before a contribution names it.
    mutating func register(tag: UInt64) {
        tags.append(tag)
    }

    /// A group's tag: 64-bit FNV-1a of its key's UTF-8 bytes, mixed. The same key has the same tag in
    /// every query and process, whichever index the query gave it.
    static func tag(of key: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return mix(hash, 0x5EED_7A65)
    }

    /// A sink for the touch loads of `add(_:)`, so the optimiser keeps them.
    private var touched: UInt64 = 0

    /// Offers a batch of contributions, in order, each as if offered alone. For large user counts it
    /// first touches every table entry, then every user's slots, so the cache misses of the batch
    /// overlap instead of queueing one after another.
    mutating func add(_ batch: UnsafeBufferPointer<Contribution>) {
        table.reserve(additional: batch.count)
        var sink = table.touch(batch.lazy.map(\.user))
        let indices = UnsafeMutableBufferPointer<Int>.allocate(capacity: batch.count)
        defer { indices.deallocate() }
        for (position, contribution) in batch.enumerated() {
            indices[position] = userIndex(contribution.user)
        }
        slots.withUnsafeBufferPointer { slots in
            // A user's slots may straddle two cache lines: touch both ends.
            for index in indices {
                sink &+= UInt64(bitPattern: Int64(slots[index * maxGroups].group))
                sink &+= UInt64(bitPattern: Int64(slots[index * maxGroups + maxGroups - 1].group))
            }
        }
        touched &+= sink
        for (position, contribution) in batch.enumerated() {
            offer(index: indices[position], contribution)
        }
    }

    @inline(__always)
    private mutating func userIndex(_ user: Pseudonym) -> Int {
        let (index, inserted) = table.index(of: user)
        if inserted {
            slots.append(contentsOf: repeatElement(Slot(), count: maxGroups))
            if storesValues { slotValues.append(contentsOf: repeatElement(0, count: maxGroups * maxContributions)) }
        }
        return index
    }

    @inline(__always)
    private mutating func offer(index: Int, _ contribution: Contribution) {
        let (user, group) = (contribution.user, contribution.group)
        let base = index * maxGroups
        let (maxGroups, key0, key1, tag) = (self.maxGroups, self.key0, self.key1, tags[Int(group)])
        let slot: Int = slots.withUnsafeMutableBufferPointer { slots in
            var empty = -1
            var worst = -1
            for slot in base..<(base + maxGroups) {
                let existing = slots[slot].group
                if existing == group { return slot }
                if existing < 0 {
                    if empty < 0 { empty = slot }
                } else if worst < 0 || slots[slot].priority > slots[worst].priority {
                    worst = slot
                }
            }
            let priority = Self.mix(user.high ^ key0, (user.low &+ tag &* 0x9E37_79B9_7F4A_7C15) ^ key1)
            let chosen: Int
            if empty >= 0 {
                chosen = empty
            } else if priority < slots[worst].priority {
                chosen = worst
            } else {
                return -1
            }
            slots[chosen] = Slot(priority: priority, group: group, seen: 0)
            return chosen
        }
        guard slot >= 0 else { return }
        record(slot: slot, contribution)
    }

    @inline(__always)
    private mutating func record(slot: Int, _ contribution: Contribution) {
        guard storesValues else {
            // Saturates: only min(seen, maxContributions) is ever read.
            slots[slot].seen = Int32(min(Int64(slots[slot].seen) + Int64(contribution.count), Int64(Int32.max)))
            return
        }
        precondition(contribution.count == 1, "a contribution with a value stands for one")
        let value = contribution.value
        slots[slot].seen += 1
        let seen = Int64(slots[slot].seen)
        let c = Int64(maxContributions)
        if seen <= c {
            slotValues[slot * maxContributions + Int(seen - 1)] = value
        } else {
            let random = Self.mix(slots[slot].priority ^ key1, UInt64(seen) ^ key0)
            let j = Int64(random.multipliedFullWidth(by: UInt64(seen)).high)
            if j < c { slotValues[slot * maxContributions + Int(j)] = value }
        }
    }

    /// Calls `body(group, kept contributions, kept values)` for every kept (user, group) slot.
    func forEachKept(_ body: (Int32, Int, ArraySlice<Int64>) -> Void) {
        for slot in slots.indices where slots[slot].group >= 0 {
            let kept = Int(min(Int64(slots[slot].seen), Int64(maxContributions)))
            let start = slot * maxContributions
            body(slots[slot].group, kept, storesValues ? slotValues[start..<(start + kept)] : [])
        }
    }

    /// A 64-bit keyed mix (two rounds of the splitmix64 / murmur3 finaliser); not a MAC, but the key is
    /// secret and fresh per query, and sampling only needs to look uniform.
    @inline(__always)
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var x = a &* 0xBF58_476D_1CE4_E5B9 ^ (b &+ 0x94D0_49BB_1331_11EB)
        x ^= x >> 31
        x &*= 0xBF58_476D_1CE4_E5B9
        x ^= x >> 27
        x &*= 0x94D0_49BB_1331_11EB
        x ^= x >> 31
        x = (x ^ b.byteSwapped) &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        return x
    }
}
