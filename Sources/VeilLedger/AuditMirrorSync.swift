import Foundation
import Synchronization
import VeilAudit
import VeilCore
import VeilStore

/// Keeps `audit.log` a mirror of the store's chain (crash-contract.md §2–3): at open, compares the
/// two and refuses what cannot be reconciled; after each commit that added records, appends them.
///
/// Contract:
/// - The mirror is written only from the store, after the store committed: it is never ahead of the
///   store. Any process can bring it up to date (the file's `flock` orders them).
/// - `reconcile` (before anything else at open): store head d, mirror head m. d ≥ m and the store's
///   record m has the mirror's hash → the mirror gets records m+1…d. d < m (the database is empty,
///   missing or older than the log) → refused, naming both files and both seqs. The same seq with
///   different hashes → refused. A catch-up that cannot be written (a full disk) does not refuse the
///   open: the mirror stays behind, which it may, and `drain` or the next open retries.
/// - `scheduleCatchUp` runs off the caller's path (the store's commit is what made the records
///   durable; an acknowledgement never waits for the mirror); `drain` waits for it.
/// - Background catch-ups start at least `catchUpInterval` apart: the commits of that time share one
///   append and one `fsync` (each catch-up also reads the store's new records and checks the mirror's
///   last signature twice). Without the pause each replica's mirror caught up after nearly every
///   commit, back to back, and those appending `fsync`s (a journal commit each) lengthened the
///   database's WAL flushes on the same disk (docs/deploy.md, "Measuring"). The mirror is at most
///   that much further behind; `drain` ends a pause at once.
public final class AuditMirrorSync: Sendable {
    /// The least time between the starts of two background catch-ups.
    public static let catchUpInterval: Duration = .milliseconds(100)

    private let mirror: AuditMirror
    private let chain: any AuditChainStore
    /// Where the store lives, for messages.
    private let storeLocation: String
    private let queue = DispatchQueue(label: "veil.audit-mirror")
    private let interval: Duration

    private struct State {
        var running = false
        var again = false
        var idle: [CheckedContinuation<Void, Never>] = []
        /// When the last background catch-up started.
        var lastStart: ContinuousClock.Instant?
        /// The runner's pause before its next catch-up, while it lasts.
        var pause: CheckedContinuation<Void, Never>?
        /// Set by `drain` until the runner's turn ends: no more pauses.
        var hurry = false
    }

    private let state = Mutex(State())

    /// `catchUpInterval`: the least time between the starts of two background catch-ups (tests pass
    /// a long one).
    public init(
        mirror: AuditMirror, chain: any AuditChainStore, storeLocation: String,
        catchUpInterval: Duration = AuditMirrorSync.catchUpInterval
    ) {
        self.mirror = mirror
        self.chain = chain
        self.storeLocation = storeLocation
        interval = catchUpInterval
    }

    /// The mirror's path.
    public var path: String { mirror.path }

    /// Compares the store's chain with the mirror and brings the mirror up to date; see the contract.
    public func reconcile() async throws {
        // The mirror first: another process may commit and mirror more records meanwhile, which can
        // only put the store further ahead of the head read here, never behind it.
        let m = try await onQueue { try self.mirror.head() }
        let d = try await chain.head()
        if d.seq < m.seq {
            throw VeilError(
                .integrity, field: storeLocation,
                "ends at audit seq \(d.seq) but \(mirror.path) records seq \(m.seq): the database is empty, missing or older than the log (restored from a backup, emptied or deleted). Opening it would un-spend privacy budget, so nothing was read or written. Restore the newer database, or run `veil db recover` to rebuild the chain and the ledger from the signed log after verifying it (the spends can be recovered; the events of a lost database cannot)")
        }
        if m.seq > 0 {
            let record = try await chain.record(seq: m.seq)
            guard record?.hash == m.hash else {
                throw VeilError(
                    .integrity, field: storeLocation,
                    "holds another record at audit seq \(m.seq) than \(mirror.path): the database and the log tell different stories, so nothing was read or written. Find the database that belongs to this log (`veil audit verify --file` checks the log on its own)")
            }
        }
        do {
            try await catchUp(from: m.seq)
        } catch let error as VeilError where error.code == .unavailable {
            // The store is intact and the mirror only behind: refusing here would stop every command,
            // reads included, until the disk has room. `drain` reports it when the process ends.
        }
    }

    /// Appends every record the store holds past the mirror's head, and waits until they are synced.
    public func catchUp() async throws {
        let m = try await onQueue { try self.mirror.head() }
        try await catchUp(from: m.seq)
    }

    /// Brings the mirror up to date in the background (coalesced: one catch-up at a time, and one more
    /// if records were committed while it ran; at least `catchUpInterval` after the last one started).
    /// Never blocks the caller.
    public func scheduleCatchUp() {
        let start = state.withLock { state -> Bool in
            if state.running {
                state.again = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        Task.detached { await self.runScheduled() }
    }

    /// Waits until no scheduled catch-up is running, then catches up once more; returns why that failed,
    /// if it did (the mirror stays behind; the next catch-up or open retries).
    @discardableResult
    public func drain() async -> VeilError? {
        await withCheckedContinuation { continuation in
            let (now, pause) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
                if state.running {
                    state.idle.append(continuation)
                    state.hurry = true
                    return (false, state.pause.take())
                }
                return (true, nil)
            }
            pause?.resume()
            if now { continuation.resume() }
        }
        do {
            try await catchUp()
            return nil
        } catch {
            return error as? VeilError ?? VeilError(.unavailable, field: mirror.path, "could not be brought up to date")
        }
    }

    private func runScheduled() async {
        while true {
            await pace()
            // A failure (a full disk) leaves the mirror behind; the next catch-up, `drain` or open retries.
            try? await catchUp()
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
                if state.again {
                    state.again = false
                    return nil
                }
                state.running = false
                state.hurry = false
                let waiters = state.idle
                state.idle = []
                return waiters
            }
            guard let waiters else { continue }
            for waiter in waiters { waiter.resume() }
            return
        }
    }

    /// Waits until `interval` has passed since the last background catch-up started (not at all for
    /// the first, or once `drain` hurries the runner), then marks the next one's start.
    private func pace() async {
        let due = state.withLock { state -> ContinuousClock.Instant? in
            guard !state.hurry, let last = state.lastStart, last + interval > .now else { return nil }
            return last + interval
        }
        if let due {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let hurried = state.withLock { state -> Bool in
                    if state.hurry { return true }
                    state.pause = continuation
                    return false
                }
                if hurried { return continuation.resume() }
                let (seconds, attoseconds) = (due - .now).components
                let nanoseconds = max(0, Int(clamping: seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                    self.state.withLock { $0.pause.take() }?.resume()
                }
            }
        }
        state.withLock { $0.lastStart = .now }
    }

    /// Whether the runner is pausing before its next catch-up (for tests).
    var isPausing: Bool { state.withLock { $0.pause != nil } }

    private func catchUp(from seq: UInt64) async throws {
        try await chain.forEachRecord(after: seq) { page in
            try await onQueue { _ = try self.mirror.append(page) }
        }
    }

    /// File work (flock, write, fsync) runs on the mirror's queue, never on a cooperative thread.
    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
