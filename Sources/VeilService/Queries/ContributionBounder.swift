import VeilCore

/// Per-user contribution bounding in one pass over events in any order.
///
/// Each user keeps at most `maxGroups` groups and, in each, at most `maxContributions` contributions:
/// - the groups kept are a uniform sample of the user's distinct groups: bottom-k sampling on a keyed
///   hash of (user, group), which needs no memory of the groups dropped (a dropped group's priority is
///   above every kept one and kept priorities only fall, so it can never come back);
/// - the contributions kept in a group are a uniform sample (reservoir sampling, Algorithm R) whose
///   random indices come from a keyed hash of (user, group, position).
///
/// The hash key comes from the query's noise generator, so samples are fresh per query; and one user's
/// sample depends only on that user's own events, so adding or removing a user leaves every other
/// user's sample unchanged (the sensitivity argument, and the test of it, rely on this).
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
    private(set) var slotGroup: [Int32] = []
    private var slotPriority: [UInt64] = []
    private(set) var slotSeen: [Int64] = []
    private(set) var slotValues: [Int64] = []

    init(maxGroups: Int, maxContributions: Int, storesValues: Bool, key: (UInt64, UInt64)) {
        precondition(maxGroups >= 1 && maxContributions >= 1)
        self.maxGroups = maxGroups
        self.maxContributions = maxContributions
        self.storesValues = storesValues
        (key0, key1) = key
    }

    var userCount: Int { table.count }

    /// Offers one contribution of `user` to `group` (≥ 0) with fixed-point `value`.
    @inline(__always)
    mutating func add(user: Pseudonym, group: Int32, value: Int64) {
        let (index, inserted) = table.index(of: user)
        if inserted {
            slotGroup.append(contentsOf: repeatElement(-1, count: maxGroups))
            slotPriority.append(contentsOf: repeatElement(0, count: maxGroups))
            slotSeen.append(contentsOf: repeatElement(0, count: maxGroups))
            if storesValues { slotValues.append(contentsOf: repeatElement(0, count: maxGroups * maxContributions)) }
        }
        let base = index * maxGroups
        var empty = -1
        var worst = -1
        for slot in base..<(base + maxGroups) {
            let existing = slotGroup[slot]
            if existing == group {
                record(slot: slot, user: user, group: group, value: value)
                return
            }
            if existing < 0 {
                if empty < 0 { empty = slot }
            } else if worst < 0 || slotPriority[slot] > slotPriority[worst] {
                worst = slot
            }
        }
        let priority = Self.mix(user.high ^ key0, user.low &+ UInt64(UInt32(bitPattern: group)) &* 0x9E37_79B9_7F4A_7C15 ^ key1)
        let slot: Int
        if empty >= 0 {
            slot = empty
        } else if priority < slotPriority[worst] {
            slot = worst
        } else {
            return
        }
        slotGroup[slot] = group
        slotPriority[slot] = priority
        slotSeen[slot] = 0
        record(slot: slot, user: user, group: group, value: value)
    }

    @inline(__always)
    private mutating func record(slot: Int, user: Pseudonym, group: Int32, value: Int64) {
        slotSeen[slot] += 1
        guard storesValues else { return }
        let seen = slotSeen[slot]
        let c = Int64(maxContributions)
        if seen <= c {
            slotValues[slot * maxContributions + Int(seen - 1)] = value
        } else {
            let random = Self.mix(slotPriority[slot] ^ key1, UInt64(seen) ^ key0)
            let j = Int64(random.multipliedFullWidth(by: UInt64(seen)).high)
            if j < c { slotValues[slot * maxContributions + Int(j)] = value }
        }
    }

    /// Calls `body(group, kept contributions, kept values)` for every kept (user, group) slot.
    func forEachKept(_ body: (Int32, Int, ArraySlice<Int64>) -> Void) {
        for slot in slotGroup.indices where slotGroup[slot] >= 0 {
            let kept = Int(min(slotSeen[slot], Int64(maxContributions)))
            let start = slot * maxContributions
            body(slotGroup[slot], kept, storesValues ? slotValues[start..<(start + kept)] : [])
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

/// An open-addressing map from pseudonym to a dense index 0, 1, 2, … in order of first sight.
struct PseudonymTable {
    private var highs: [UInt64]
    private var lows: [UInt64]
    private var indices: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        highs = [UInt64](repeating: 0, count: size)
        lows = [UInt64](repeating: 0, count: size)
        indices = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    /// The user's index, and whether it was just added.
    @inline(__always)
    mutating func index(of user: Pseudonym) -> (Int, Bool) {
        var position = Self.slot(user) & mask
        while true {
            let stored = indices[position]
            if stored < 0 { break }
            if highs[position] == user.high && lows[position] == user.low { return (Int(stored), false) }
            position = (position + 1) & mask
        }
        if (count + 1) * 2 > indices.count {
            grow()
            return index(of: user)
        }
        highs[position] = user.high
        lows[position] = user.low
        indices[position] = Int32(count)
        count += 1
        return (count - 1, true)
    }

    /// Pseudonyms are keyed hashes already, but test fixtures use sequential ones: mix anyway.
    @inline(__always)
    private static func slot(_ user: Pseudonym) -> Int {
        let x = ((user.high &* 0x9E37_79B9_7F4A_7C15) ^ user.low) &* 0xD6E8_FEB8_6659_FD93
        return Int(truncatingIfNeeded: x >> 32)
    }

    private mutating func grow() {
        let old = (highs, lows, indices)
        var bigger = PseudonymTable(capacity: indices.count)
        for position in old.2.indices where old.2[position] >= 0 {
            bigger.insert(Pseudonym(high: old.0[position], low: old.1[position]), index: old.2[position])
        }
        self = bigger
    }

    private mutating func insert(_ user: Pseudonym, index: Int32) {
        var position = Self.slot(user) & mask
        while indices[position] >= 0 { position = (position + 1) & mask }
        highs[position] = user.high
        lows[position] = user.low
        indices[position] = index
        count += 1
    }
}
