import Synchronization

/// Remembers the results of a pure function for the keys it was last asked about, safe across
/// threads: for budget decisions, which meet the same few mechanisms (their JSON, their RDP curves)
/// again and again on every replica.
///
/// Contract: `value(for:making:)` returns what `make(key)` returns — the remembered result of an
/// earlier call with an equal key, or a fresh one — so it must only wrap a function whose result
/// depends on nothing but the key. A call that throws remembers nothing. At most `capacity` results
/// are kept; when that many are, all are forgotten before the next is kept (no order is kept per
/// entry, so a hit costs one hash and one lock). `make` runs outside the lock: two threads missing
/// the same key at once both compute it, and either result may be kept.
public final class BoundedMemo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let capacity: Int
    private let entries = Mutex<[Key: Value]>([:])

    /// Contract: `capacity` > 0.
    public init(capacity: Int) {
        precondition(capacity > 0, "a memo keeps at least one result")
        self.capacity = capacity
    }

    /// `make(key)`, remembered; see the type's contract.
    public func value<Failure: Error>(for key: Key, making make: (Key) throws(Failure) -> Value) throws(Failure) -> Value {
        if let kept = entries.withLock({ $0[key] }) { return kept }
        let value = try make(key)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
        return value
    }

    /// How many results are kept (for tests).
    public var count: Int { entries.withLock { $0.count } }
}
