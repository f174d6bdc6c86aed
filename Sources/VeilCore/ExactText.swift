import Foundation

/// Text that is equal only to the same bytes (its UTF-8), for keys that must tell apart what
/// `String`'s `==` equates: Swift compares strings by canonical equivalence, so "é" as one scalar and as
/// "e" with a combining accent are equal `String`s — but two user IDs (whose pseudonyms, keyed hashes
/// of the bytes, differ) and two event IDs (which the stores compare byte for byte).
public struct ExactText: Hashable, Sendable, ExpressibleByStringLiteral {
    public let text: String

    public init(_ text: String) { self.text = text }

    /// A literal's bytes, as written in the source.
    public init(stringLiteral text: String) { self.text = text }

    @inlinable
    public static func == (lhs: ExactText, rhs: ExactText) -> Bool { same(lhs.text, rhs.text) }

    /// Whether `a` and `b` are the same bytes — `==` for plain `String`s, for hot loops that hold no
    /// wrapper: the byte counts, then the bytes (`order`).
    @inlinable
    public static func same(_ a: String, _ b: String) -> Bool { a.utf8.count == b.utf8.count && order(a, b) == 0 }

    /// `String`'s hash: equal bytes hash alike (canonical twins too, which `==` then tells apart).
    @inlinable
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// -1, 0 or 1 as the UTF-8 bytes of `a` sort before, equal or after those of `b` (byte by byte, a
    /// prefix first): SQLite's BINARY and PostgreSQL's `COLLATE "C"` order.
    @inlinable
    public static func order(_ a: String, _ b: String) -> Int {
        let contiguous = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Int in
                let common = min(x.count, y.count)
                if common > 0 {
                    let order = memcmp(x.baseAddress!, y.baseAddress!, common)
                    if order != 0 { return order < 0 ? -1 : 1 }
                }
                return x.count == y.count ? 0 : x.count < y.count ? -1 : 1
            }
        }
        if let order = contiguous ?? nil { return order }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : a.utf8.elementsEqual(b.utf8) ? 0 : 1
    }
}
