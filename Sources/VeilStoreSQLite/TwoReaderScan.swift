import Dispatch
import GRDB
import Synchronization
import VeilCore
import VeilStore

/// A scan of the whole `events` table (no time range) on two reader connections at once, so that
/// SQLite's own work — stepping the table and handing out columns, most of a whole-store query's
/// time — runs on both cores instead of one.
///
/// The table is cut into ranges of `chunkSize` rowids; reader i reads ranges i, i + 2, i + 4, … in its
/// own read transaction and a third thread hands the chunks to `body` in range order, skipping empty
/// ones. `body` therefore sees the events in the order of a one-reader `SELECT … FROM events` (rowid
/// order), so whatever it computes does not depend on which reader read what.
///
/// Both readers must read one snapshot. The SQLite Veil links has no shared snapshots
/// (`SQLITE_ENABLE_SNAPSHOT`), so each reader first reads a `Witness` of the events table in its own
/// transaction; when the two differ (a commit landed between the starts), both stop before reading an
/// event and the scan starts again, and after `attempts` starts it reports `false` (the caller then
/// reads on one reader).
///
/// At most one such scan runs at a time in the process (`gate`); another one meanwhile reports `false`
/// at once. A scan holds one reader while it waits for the second: two scans waiting so could hold
/// every reader of the pool.
enum TwoReaderScan {
    /// Starts tried before giving up on agreeing readers.
    static let attempts = 3

    private static let gate = Mutex(false)

    /// Reads every event of `sql` (a `SELECT` of `selection` from `events` whose `WHERE` clause ends in
    /// the rowid range `?1 <= rowid < ?2`, after `arguments`' positions) into `body`, or returns false
    /// without calling `body` when it cannot run (another scan is running, the readers never agreed).
    static func run(
        database: VeilDatabase, sql: String, selection: EventSelection, arguments: [EventRowReader.Argument], chunkSize: Int,
        _ body: @escaping @Sendable ([StoredEvent]) throws -> Void
    ) async throws -> Bool {
        try await run(database: database, rangeWidth: chunkSize, reader: { _ in
            { db, start, end, _ in
                var chunk: [StoredEvent] = []
                chunk.reserveCapacity(chunkSize)
                try EventRowReader.forEach(sql, selection: selection, arguments: arguments + [.int(start), .int(end)], in: db) { event, _ in
                    chunk.append(event)
                }
                return chunk
            }
        }, body)
    }

    /// Reads the rowid ranges of `rangeWidth` on two readers, each with a range reader of its own
    /// (`reader(lane)`, made on the reader's thread and called there for each of its ranges in order:
    /// `(db, start, end, isLast)` reads `start <= rowid < end`), and hands each range's chunk to `body`
    /// in range order, empty ones left out; or returns false without calling `body` (as above).
    static func run<Chunk: Collection & Sendable>(
        database: VeilDatabase, rangeWidth: Int,
        reader: @escaping @Sendable (Int) -> (Database, Int64, Int64, Bool) throws -> Chunk,
        _ body: @escaping @Sendable (Chunk) throws -> Void
    ) async throws -> Bool {
        guard gate.withLock({ busy in
            if busy { return false }
            busy = true
            return true
        }) else { return false }
        defer { gate.withLock { $0 = false } }
        for _ in 0..<attempts {
            if try await attempt(database: database, rangeWidth: rangeWidth, reader: reader, body) {
                return true
            }
        }
        return false
    }

    /// What a reader did.
    private enum ReaderOutcome: Sendable {
        case read, disagreed, stopped
    }

    /// A task of an attempt that ended: a reader, or the consumer.
    private enum Done: Sendable {
        case reader(Int, Result<ReaderOutcome, any Error>)
        case consumer(Result<Void, any Error>)
    }

    /// One start: true when both readers agreed and every chunk reached `body`.
    private static func attempt<Chunk: Collection & Sendable>(
        database: VeilDatabase, rangeWidth: Int, reader: @escaping @Sendable (Int) -> (Database, Int64, Int64, Bool) throws -> Chunk,
        _ body: @escaping @Sendable (Chunk) throws -> Void
    ) async throws -> Bool {
        let lanes = ChunkLanes<Chunk>(count: 2, depth: 2)
        let agreement = WitnessAgreement(readers: 2)
        let (agreed, failure) = await withTaskGroup(of: Done.self) { group in
            for lane in 0..<2 {
                group.addTask {
                    do {
                        return .reader(lane, .success(try await database.read("events.scan") { db in
                            try read(lane: lane, of: 2, db, rangeWidth: rangeWidth, reader: reader(lane), agreement: agreement, lanes: lanes)
                        }))
                    } catch {
                        return .reader(lane, .failure(error))
                    }
                }
            }
            group.addTask {
                do {
                    return .consumer(.success(try await BlockingIO.run { try lanes.consume(body) }))
                } catch {
                    return .consumer(.failure(error))
                }
            }
            var agreed = true
            var stopped = false
            var failure: (any Error)?
            var consumerFailure: (any Error)?
            for await done in group {
                switch done {
                case .reader(let lane, .failure(let error)):
                    // A reader that failed before it reached the agreement must not keep the other waiting.
                    agreement.record(lane, nil)
                    lanes.stop()
                    failure = failure ?? error
                case .reader(_, .success(.disagreed)):
                    agreed = false
                case .reader(_, .success(.stopped)):
                    stopped = true
                case .reader(_, .success(.read)):
                    break
                case .consumer(.failure(let error)):
                    lanes.stop()
                    if !(error is ChunkLanesStopped) { consumerFailure = error }
                case .consumer(.success):
                    break
                }
            }
            // A reader stopped while the consumer ended well would mean ranges left unread.
            let unread = stopped && consumerFailure == nil && failure == nil && agreed
            // The caller's own error first, as one reader's scan would rethrow it.
            return (agreed, consumerFailure ?? failure ?? (unread ? VeilError(.internal, field: "events", "a two-reader scan left ranges unread") : nil))
        }
        if let failure { throw failure }
        return agreed
    }

    /// Reader `lane`'s part: the witness, the agreement, then its ranges in order (empty ones too, so
    /// that the consumer's ranges line up).
    private static func read<Chunk>(
        lane: Int, of readers: Int, _ db: Database, rangeWidth: Int, reader: (Database, Int64, Int64, Bool) throws -> Chunk,
        agreement: WitnessAgreement, lanes: ChunkLanes<Chunk>
    ) throws -> ReaderOutcome {
        let witness: Witness
        do {
            witness = try Witness(db)
        } catch {
            agreement.record(lane, nil)
            throw error
        }
        guard agreement.arrive(lane, witness) else {
            lanes.finish(lane)
            return .disagreed
        }
        guard let first = try Int64.fetchOne(db, sql: "SELECT MIN(rowid) FROM events"), let last = witness.lastRowid else {
            lanes.finish(lane)
            return .read
        }
        let width = Int64(rangeWidth)
        var start = first + Int64(lane) * width
        do {
            while start <= last {
                let next = start + Int64(readers) * width
                try lanes.put(lane, try reader(db, start, start + width, next > last))
                start = next
            }
        } catch is ChunkLanesStopped {
            return .stopped
        }
        lanes.finish(lane)
        return .read
    }

    /// What two read transactions compare to know that they see the same events: the audit chain's
    /// head and the largest rowid of `events`. Equal witnesses mean no transaction that changed
    /// `events` committed between the two starts, because
    /// - only an erasure deletes events (`SQLiteEventStore.erase`), and it appends a record to the chain
    ///   in its transaction, and the chain's head never comes back to an earlier value;
    /// - without a deletion, a transaction that stores an event raises the largest rowid (SQLite gives a
    ///   new row one more than the largest), whether or not its batch has an audit record;
    /// - nothing updates an event or renumbers rowids (no `UPDATE events`, no `VACUUM`).
    struct Witness: Equatable, Sendable {
        var chainHead: AuditHead
        var lastRowid: Int64?
    }
}

extension TwoReaderScan.Witness {
    /// The witness of the events `db`'s transaction sees.
    init(_ db: Database) throws {
        chainHead = try SQLiteAuditChain.head(db)
        lastRowid = try Int64.fetchOne(db, sql: "SELECT MAX(rowid) FROM events")
    }
}

/// Where the readers of a `TwoReaderScan` meet before reading: each arrives with its witness (nil when
/// it failed) and waits for the others; all proceed only if every witness is the same.
final class WitnessAgreement: Sendable {
    private let witnesses: Mutex<[TwoReaderScan.Witness?]>
    private let arrived: Mutex<[Bool]>
    private let everyone = DispatchGroup()

    init(readers: Int) {
        witnesses = Mutex(Array(repeating: nil, count: readers))
        arrived = Mutex(Array(repeating: false, count: readers))
        for _ in 0..<readers { everyone.enter() }
    }

    /// Records reader `lane`'s witness, waits for every reader and returns whether they all agree.
    func arrive(_ lane: Int, _ witness: TwoReaderScan.Witness) -> Bool {
        record(lane, witness)
        everyone.wait()
        return witnesses.withLock { all in all.allSatisfy { $0 != nil && $0 == all[0] } }
    }

    /// Records reader `lane`'s witness (nil: it failed) without waiting; only its first record counts.
    func record(_ lane: Int, _ witness: TwoReaderScan.Witness?) {
        let first = arrived.withLock { arrived in
            defer { arrived[lane] = true }
            return !arrived[lane]
        }
        guard first else { return }
        witnesses.withLock { $0[lane] = witness }
        everyone.leave()
    }
}

/// What `ChunkLanes` throws to its producers and consumer once stopped.
struct ChunkLanesStopped: Error {}

/// Chunks from several producers (lanes) taken by one consumer in turn: range r from lane r mod n.
/// Each lane holds at most `depth` chunks not yet taken; `put` waits for room. `stop` ends everything:
/// waiting producers and the consumer wake up and throw `ChunkLanesStopped`.
final class ChunkLanes<Chunk: Collection & Sendable>: Sendable {
    private struct Lane {
        var chunks: [Chunk] = []
        var finished = false
    }

    private let state: Mutex<(lanes: [Lane], stopped: Bool)>
    /// Per lane: signalled for every chunk put and for the finish (the consumer waits on it).
    private let ready: [DispatchSemaphore]
    /// Per lane: the room left (the producer waits on it). Semaphores start at 0 and are signalled up:
    /// libdispatch refuses to free a semaphore left below its initial value.
    private let room: [DispatchSemaphore]

    init(count: Int, depth: Int) {
        state = Mutex((Array(repeating: Lane(), count: count), false))
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        room = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        for semaphore in room { for _ in 0..<depth { semaphore.signal() } }
    }

    func put(_ lane: Int, _ chunk: Chunk) throws {
        room[lane].wait()
        try state.withLock { state in
            if state.stopped { throw ChunkLanesStopped() }
            state.lanes[lane].chunks.append(chunk)
        }
        ready[lane].signal()
    }

    func finish(_ lane: Int) {
        state.withLock { $0.lanes[lane].finished = true }
        ready[lane].signal()
    }

    /// Every producer and the consumer stop at their next step.
    func stop() {
        state.withLock { $0.stopped = true }
        for semaphore in ready + room { semaphore.signal() }
    }

    /// Hands every chunk to `body` in range order, empty ones left out, until the lane whose turn it is
    /// has finished. An error `body` throws stops the producers and is rethrown.
    func consume(_ body: (Chunk) throws -> Void) throws {
        var turn = 0
        while true {
            let lane = turn % ready.count
            ready[lane].wait()
            let chunk: Chunk? = try state.withLock { state in
                if state.stopped { throw ChunkLanesStopped() }
                if state.lanes[lane].chunks.isEmpty { return nil }
                return state.lanes[lane].chunks.removeFirst()
            }
            guard let chunk else {
                // Every range was handed over; a producer still holding one (which agreeing readers
                // never do) stops instead of waiting for room forever.
                stop()
                return
            }
            room[lane].signal()
            if !chunk.isEmpty {
                do { try body(chunk) } catch {
                    stop()
                    throw error
                }
            }
            turn += 1
        }
    }
}
