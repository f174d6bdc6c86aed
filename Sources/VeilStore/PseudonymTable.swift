import VeilCore

/// An open-addressing map from pseudonym to a dense index 0, 1, 2, … in order of first sight (linear
/// probing, load ≤ ½, one 32-byte entry per probe): the per-user tables of a grouped count
/// (`PseudonymGroupCounter`) and of contribution bounding (`ContributionBounder` in VeilQueries).
/// Hot paths are inlinable, so that the modules that use it per row do not pay a call.
public struct PseudonymTable: Sendable {
    /// 32 bytes, so that an entry never straddles two cache lines.
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var high: UInt64 = 0
        @usableFromInline var low: UInt64 = 0
        @usableFromInline var index: Int64 = -1
        @usableFromInline var padding: UInt64 = 0

        @inlinable
        init(high: UInt64 = 0, low: UInt64 = 0, index: Int64 = -1) {
            self.high = high
            self.low = low
            self.index = index
        }
    }

    @usableFromInline var entries: [Entry]
    @usableFromInline var mask: Int
    @usableFromInline var used = 0
    /// Users held.
    public var count: Int { used }

    public init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        entries = [Entry](repeating: Entry(), count: size)
        mask = size - 1
    }

    /// Grows now, if needed, so that `additional` insertions keep the load at most ½.
    public mutating func reserve(additional: Int) {
        while (used + additional) * 2 > entries.count { grow() }
    }

    /// Reads the home entry of each user (independent loads that overlap, so that a batch's cache
    /// misses come at once), returning a value that depends on them.
    @inlinable
    public func touch(_ users: some Sequence<Pseudonym>) -> UInt64 {
        entries.withUnsafeBufferPointer { entries in
            var sink: UInt64 = 0
            for user in users { sink &+= UInt64(bitPattern: entries[Self.slot(user) & mask].index) }
            return sink
        }
    }

    /// The user's index, and whether it was just added.
    @inlinable @inline(__always)
    public mutating func index(of user: Pseudonym) -> (Int, Bool) {
        if (used + 1) * 2 > entries.count { grow() }
        let (mask, count) = (self.mask, self.used)
        let found: (Int, Bool) = entries.withUnsafeMutableBufferPointer { entries in
            var position = Self.slot(user) & mask
            while true {
                let entry = entries[position]
                if entry.index < 0 { break }
                if entry.high == user.high && entry.low == user.low { return (Int(entry.index), false) }
                position = (position + 1) & mask
            }
            entries[position] = Entry(high: user.high, low: user.low, index: Int64(count))
            return (count, true)
        }
        if found.1 { used += 1 }
        return found
    }

    /// Every user with its index, in table order.
    public func forEach(_ body: (Pseudonym, Int) throws -> Void) rethrows {
        for entry in entries where entry.index >= 0 { try body(Pseudonym(high: entry.high, low: entry.low), Int(entry.index)) }
    }

    /// Forgets every user, keeping the table's size.
    public mutating func removeAll() {
        for position in entries.indices { entries[position] = Entry() }
        used = 0
    }

    /// Pseudonyms are keyed hashes already, but test fixtures use sequential ones: mix anyway.
    @inlinable @inline(__always)
    static func slot(_ user: Pseudonym) -> Int {
        let x = ((user.high &* 0x9E37_79B9_7F4A_7C15) ^ user.low) &* 0xD6E8_FEB8_6659_FD93
        return Int(truncatingIfNeeded: x >> 32)
    }

    @usableFromInline
    mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(), count: old.count * 2)
        mask = entries.count - 1
        for entry in old where entry.index >= 0 {
            var position = Self.slot(Pseudonym(high: entry.high, low: entry.low)) & mask
            while entries[position].index >= 0 { position = (position + 1) & mask }
            entries[position] = entry
        }
    }
}
