/// A growable byte buffer for hand-written NDJSON: appends without per-call bounds checks once
/// `reserve(_:)` has made room, and frees its storage when it goes away.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = Swift.max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for at least `extra` more bytes.
    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    mutating func removeAll() { count = 0 }

    /// The bytes written so far.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    // The appenders below assume `reserve` has made room.

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        base[count] = value
        count += 1
    }

    @inline(__always)
    mutating func bytes(_ text: StaticString) {
        let length = text.utf8CodeUnitCount
        (base + count).update(from: text.utf8Start, count: length)
        count += length
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
        (base + count).update(from: source.baseAddress!, count: source.count)
        count += source.count
    }

    @inline(__always)
    mutating func bytes(_ source: [UInt8]) {
        source.withUnsafeBufferPointer { bytes($0) }
    }

    /// A non-negative integer in decimal.
    @inline(__always)
    mutating func decimal(_ value: Int) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        var position = count + digits - 1
        var remaining = value
        repeat {
            base[position] = UInt8(truncatingIfNeeded: 48 + remaining % 10)
            remaining /= 10
            position -= 1
        } while remaining > 0
        count += digits
    }

    /// A non-negative integer in decimal, zero-padded to at least `width` digits.
    mutating func decimal(_ value: Int, width: Int) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        for _ in digits..<Swift.max(width, digits) { byte(UInt8(ascii: "0")) }
        decimal(value)
    }

    /// Exactly two decimal digits, 00–99.
    @inline(__always)
    mutating func twoDigits(_ value: Int) {
        base[count] = UInt8(truncatingIfNeeded: 48 + value / 10)
        base[count + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
        count += 2
    }

    /// A finite number in fixed-point notation with `decimals` digits after the point (0 < decimals ≤ 9),
    /// rounded half away from zero, like `%.*f`; magnitudes of 9e9 and more (and non-finite values) are
    /// written as Swift's `description` instead (`1.2e+10`, `inf`, `nan`).
    mutating func fixed(_ value: Double, decimals: Int) {
        reserve(32)
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        guard value.isFinite, abs(value) < 9e9 else {
            bytes(Array(value.description.utf8))
            return
        }
        let scaled = (abs(value) * Double(scale)).rounded(.toNearestOrAwayFromZero)
        let units = Int(scaled)
        if value < 0 && units != 0 { byte(UInt8(ascii: "-")) }
        decimal(units / scale)
        byte(UInt8(ascii: "."))
        decimal(units % scale, width: decimals)
    }

    /// The catalogue ID of item index `item`: `item-` + category index + 4-digit number in the category.
    @inline(__always)
    mutating func itemID(_ item: Int) {
        bytes("item-")
        decimal(item / ShopperCatalog.itemsPerCategory)
        decimal(item % ShopperCatalog.itemsPerCategory, width: 4)
    }

    /// An amount of money in cents as a JSON number with exactly two decimals (`1234` → `12.34`).
    @inline(__always)
    mutating func money(cents: Int) {
        decimal(cents / 100)
        byte(UInt8(ascii: "."))
        twoDigits(cents % 100)
    }
}
