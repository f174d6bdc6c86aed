import VeilCore
import VeilStore

/// Read access to the stored events for aggregate queries.
///
/// Contract: `scanEvents` calls `body` with every stored event `filter` admits exactly once, in chunks
/// of any size and in any order, one chunk at a time, and returns after the last chunk; an error thrown
/// by `body` stops the scan and is rethrown. The query engine reads nothing else, so any event store
/// serves queries (`StoredEventScan`), and tests can hand it events in memory.
public protocol EventScanning: Sendable {
    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws
}

/// The scan of an `EventStore`, as queries read it.
struct StoredEventScan: EventScanning {
    /// Events per chunk handed to the engine.
    static let chunkSize = 65_536

    let store: any EventStore

    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        try await store.scan(filter, chunkSize: Self.chunkSize, body)
    }
}
