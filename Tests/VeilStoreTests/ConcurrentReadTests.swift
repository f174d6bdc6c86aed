import Testing
import VeilCore
@testable import VeilStore

/// Async reads (`VeilDatabase.read`) beside the synchronous reads of the stores with a synchronous API,
/// from many tasks at once. GRDB's async `pool.read` kept its reader until the awaiting task resumed on
/// the cooperative pool, which the synchronous reads were blocking: this deadlocked on two cores.
@Suite struct ConcurrentReadTests {
    @Test(.timeLimit(.minutes(1)))
    func asyncAndSynchronousReadsFromManyTasksAllFinish() async throws {
        let dir = ScratchDirectory()
        let database = try VeilDatabase(directory: dir.path)
        let events = SQLiteEventStore(database: database)
        let models = SQLiteModelStore(database: database)
        _ = try await events.commit(batch((0..<50).map { event("e\($0)", UInt64($0 % 5), at: Int64($0)) }))
        let read = try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<400 {
                group.addTask {
                    _ = try models.serving(task: "purchase")
                    return try await events.events(for: pid(UInt64(task % 5))).count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(read == 400 * 10)
    }
}
