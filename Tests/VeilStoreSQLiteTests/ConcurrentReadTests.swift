import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// Reads from many tasks at once on two cores. GRDB's async `pool.read` kept its reader until the
/// awaiting task resumed on the cooperative pool, which synchronous store reads were blocking: this
/// deadlocked. Every store read now runs and releases its reader on GRDB's queue (`VeilDatabase.read`).
///
/// Alone the test takes under a second; the limit only has to tell a deadlock (forever) from a test run
/// whose other suites hold the two cooperative threads with real-binary CLI runs for minutes (one
/// minute was exceeded that way under load), so it is generous.
@Suite struct ConcurrentReadTests {
    @Test(.timeLimit(.minutes(10)))
    func readsOfEveryStoreFromManyTasksAllFinish() async throws {
        let dir = ScratchDirectory()
        let stores = try SQLiteStores.open(directory: dir.path, configuration: StoreConfiguration(sealer: nil))
        let fixture = try SQLiteFixture(directory: dir.path)
        _ = try await fixture.events.commit(batch((0..<50).map { event("e\($0)", UInt64($0 % 5), at: Int64($0)) }))
        let read = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<400 {
                group.addTask {
                    _ = try await stores.models.serving(task: "purchase")
                    _ = try await stores.ledger.spends(dataset: "default")
                    return try await stores.events.events(for: pid(UInt64(task % 5))).count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(read == 400 * 10)
    }
}
