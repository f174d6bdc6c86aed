import VeilCore
import VeilStore

/// Read access to the stored events for aggregate queries.
///
/// Contract: `scanEvents` calls `body` with every stored event exactly once, in chunks of any size and
/// in any order, and returns after the last chunk; an error thrown by `body` stops the scan and is
/// rethrown. The query engine reads nothing else, so any store (SQLite, PostgreSQL, an in-memory
/// fixture) can serve queries by conforming.
public protocol EventScanning: Sendable {
    func scanEvents(_ body: ([StoredEvent]) throws -> Void) throws
}

extension SQLiteEventStore: EventScanning {
    public func scanEvents(_ body: ([StoredEvent]) throws -> Void) throws {
        try scanAllEvents(body)
    }
}
