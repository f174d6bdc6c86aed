import VeilCore
import VeilStore

/// TEST ONLY. An `EventStore` that sends every write, read, erasure and import to the real store in
/// `base`; a conformer changes only what it implements itself (e.g. `commit`, to inject a fault at the
/// store boundary, or `commitAll`, to pace an import). Such stores never stand in for the store:
/// whatever they let through is committed by the real one.
public protocol ForwardingEventStore: EventStore {
    var base: any EventStore { get }
}

extension ForwardingEventStore {
    public func commit(_ batch: EventBatchWrite) async throws -> BatchCommit { try await base.commit(batch) }
    public func commitAll(
        _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
        audit: @escaping @Sendable (BatchCommit) -> AuditDraft
    ) async throws -> BatchCommit {
        try await base.commitAll(batches, stored: stored, audit: audit)
    }
    public var maxWriteConnections: Int { base.maxWriteConnections }
    public var eventsPerWriteUnit: Int { base.eventsPerWriteUnit }
    public func eventCount() async throws -> Int { try await base.eventCount() }
    public func events(for pseudonym: Pseudonym) async throws -> [StoredEvent] { try await base.events(for: pseudonym) }
    public func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk {
        try await base.events(after: cursor, limit: limit)
    }
    public func scan(_ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        try await base.scan(filter, chunkSize: chunkSize, body)
    }
    public func countEvents(_ request: EventCountRequest, _ body: @escaping @Sendable ([PseudonymGroupCount]) throws -> Void) async throws {
        try await base.countEvents(request, body)
    }
    public func erase(_ pseudonym: Pseudonym, audit: @escaping @Sendable (ErasureCounts) -> AuditDraft) async throws -> ErasureCounts {
        try await base.erase(pseudonym, audit: audit)
    }
    public func settle() async throws -> Double { try await base.settle() }
    public func statistics() async throws -> StoredEventStatistics { try await base.statistics() }
    public func latestEventMillis() async throws -> Int64? { try await base.latestEventMillis() }
    public func containsEvents(in range: Range<Int64>) async throws -> Bool { try await base.containsEvents(in: range) }
}
