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

    /// The counts per (pseudonym, group) of the events `request` admits, as `EventStore.countEvents`
    /// promises. Default: counted from `scanEvents`.
    func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws
}

extension EventScanning {
    public func countEvents(
        _ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void
    ) async throws {
        try await request.count(scanning: { filter, chunk in try await scanEvents(filter, chunk) }, body)
    }
}

/// The scan of an `EventStore`, as queries read it.
struct StoredEventScan: EventScanning {
    /// Events per chunk handed to the engine.
    static let chunkSize = 65_536

    let store: any EventStore

    func scanEvents(_ filter: EventFilter, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        try await store.scan(filter, chunkSize: Self.chunkSize, body)
    }

    func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws {
        try await store.countEvents(request, body)
    }
}
