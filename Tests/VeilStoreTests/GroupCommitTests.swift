import Foundation
import Testing
import VeilCore
@testable import VeilStore

/// `GroupCommitter`: concurrent batches share transactions, yet each batch keeps its own counts, all or
/// nothing, and a failed transaction stores none of its batches.
@Suite struct GroupCommitTests {
    /// 32 concurrent batches of 100 events; consecutive batches overlap by 50 `event_id`s.
    static func overlappingBatches() -> [[StoredEvent]] {
        (0..<32).map { b in (0..<100).map { i in event("g-\(b * 50 + i)", UInt64(b % 7), at: Int64(i)) } }
    }

    @Test func concurrentBatchesAreCountedOnceEach() async throws {
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let batches = Self.overlappingBatches()
        let results = try await withThrowingTaskGroup(of: BatchCommit.self) { group in
            for events in batches { group.addTask { try await store.commit(batch(events)) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.inserted + $0.duplicates == 100 })
        let distinct = Set(batches.joined().map(\.eventID)).count
        #expect(results.map(\.inserted).reduce(0, +) == distinct)
        #expect(results.map(\.newIdentities).reduce(0, +) == 7)
        #expect(try await store.eventCount() == distinct)
        #expect(try await store.identityCount() == 7)
    }

    @Test func aFailedTransactionStoresNoneOfItsBatches() async throws {
        struct EscrowFailed: Error {}
        let dir = ScratchDirectory()
        let store = try SQLiteEventStore(directory: dir.path)
        let batches = (0..<16).map { b in (0..<50).map { i in event("f-\(b)-\(i)", UInt64(100 + b), at: Int64(i)) } }
        let outcomes = await withTaskGroup(of: (Int, BatchCommit?).self) { group in
            for (index, events) in batches.enumerated() {
                group.addTask {
                    let write =
                        index == 5
                        ? EventBatchWrite(events: events, dataKey: testKey) { _ in throw EscrowFailed() }
                        : batch(events)
                    return (index, try? await store.commit(write))
                }
            }
            return await group.reduce(into: [BatchCommit?](repeating: nil, count: batches.count)) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes[5] == nil)
        let stored = outcomes.compactMap { $0 }
        #expect(stored.allSatisfy { $0.inserted == 50 })
        #expect(try await store.eventCount() == stored.count * 50)
        #expect(try await store.identityCount() == stored.count)
    }
}
