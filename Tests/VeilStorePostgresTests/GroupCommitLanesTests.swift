import Synchronization
import Testing
import VeilStore

/// `GroupCommitLanes` without a database: a group whose write has not returned holds back only its
/// own lane.
@Suite struct GroupCommitLanesTests {
    @Test func aGroupWaitingForItsCommitDoesNotHoldBackTheNextRequest() async throws {
        let (started, starting) = AsyncStream.makeStream(of: [Int].self)
        let firstMayCommit = Gate()
        let lanes = GroupCommitLanes<Int, Int>(lanes: 2, maxWeight: 10) { group in
            starting.yield(group)
            if group.contains(1) { await firstMayCommit.wait() }
            return group.map { .success($0 * 10) }
        }
        async let first = lanes.submit(1)
        var writes = started.makeAsyncIterator()
        #expect(await writes.next() == [1], "the first request's group is being written")
        // With one group at a time (one lane), this would wait for the first group's write.
        #expect(try await lanes.submit(2) == 20)
        #expect(await writes.next() == [2])
        firstMayCommit.open()
        #expect(try await first == 10)
        #expect(lanes.groupsWritten == [1, 1])
    }
}

/// Suspends tasks until `open` is called (and lets later ones through at once).
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.isOpen { return true }
                state.waiting.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { state in
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
