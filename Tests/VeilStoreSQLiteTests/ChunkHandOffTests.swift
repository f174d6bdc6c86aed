import Foundation
import Synchronization
import Testing
import VeilCore
import VeilStore
@testable import VeilStoreSQLite

/// A scan reads its next chunk while the caller consumes the last one (`ChunkHandOff`), and keeps the
/// scan's contract: every chunk once, in order, one at a time; the caller's error stops it.
@Suite struct ChunkHandOffTests {
    struct Stop: Error {}

    @Test func chunksArriveInOrderOneAtATime() throws {
        let seen = Mutex((chunks: [Int](), busy: false, overlapped: false))
        let handOff = ChunkHandOff { chunk in
            seen.withLock { state in
                state.overlapped = state.overlapped || state.busy
                state.busy = true
            }
            usleep(200)
            seen.withLock { state in
                state.chunks.append(Int(chunk[0].timestampMillis))
                state.busy = false
            }
        }
        for index in 0..<50 { try handOff.send([event("e\(index)", 1, at: Int64(index))]) }
        try handOff.finish()
        #expect(seen.withLock { $0.chunks } == Array(0..<50))
        #expect(!seen.withLock { $0.overlapped })
    }

    @Test func theCallersErrorStopsTheScanAndComesBackAsItIs() throws {
        let consumed = Mutex(0)
        let handOff = ChunkHandOff { _ in
            let count = consumed.withLock { count in
                count += 1
                return count
            }
            if count == 3 { throw Stop() }
        }
        var thrown: (any Error)?
        do {
            for index in 0..<1_000 { try handOff.send([event("e\(index)", 1, at: Int64(index))]) }
            try handOff.finish()
        } catch {
            thrown = error
        }
        #expect((thrown as? CallerError)?.error is Stop)
        #expect(throws: CallerError.self) { try handOff.finish() }
        #expect(consumed.withLock { $0 } == 3)
    }

    /// Through the store: a scan whose body fails part-way rethrows that error unchanged.
    @Test func aFailingScanRethrowsTheBodysError() async throws {
        let scratch = ScratchDirectory()
        let fixture = try SQLiteFixture(directory: scratch.path)
        _ = try await fixture.events.commit(batch((0..<100).map { event("e\($0)", UInt64($0), at: Int64($0)) }))
        let chunks = Mutex(0)
        await #expect(throws: Stop.self) {
            try await fixture.events.scan(.all, chunkSize: 10) { _ in
                if chunks.withLock({ count in count += 1; return count }) == 2 { throw Stop() }
            }
        }
        #expect(chunks.withLock { $0 } == 2)
    }
}
