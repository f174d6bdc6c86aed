import Synchronization

/// Several `GroupCommitQueue`s side by side, for a backend that can write more than one group at a
/// time (PostgreSQL: each group is a transaction on a connection of its own). A request goes to the
/// lane with the least weight submitted and not yet answered, so while one lane's group commits, the
/// next requests form a group on another lane instead of waiting for that commit.
///
/// Each lane keeps `GroupCommitQueue`'s contract (a result is returned after its group's write
/// returned; a failed group fails all of its requests and stores none of them). What lanes change:
/// groups of different lanes are written at once, so they must not depend on each other's order —
/// the backend's `write` must be safe against itself running concurrently, as it is against another
/// process (replica) writing the same database. A request that repeats one in flight on another lane
/// is ordered by the database, not by arrival (e.g. a repeated `event_id` is stored once, and counted
/// as the duplicate in whichever batch claimed it second).
public final class GroupCommitLanes<Request: Sendable, Response: Sendable>: Sendable {
    private let lanes: [GroupCommitQueue<Request, Response>]
    /// Per lane: the weight submitted and not yet answered.
    private let load: Mutex<[Int]>
    private let weight: @Sendable (Request) -> Int

    /// - Parameters:
    ///   - lanes: how many groups may be written at once (at least 1; 1 is one `GroupCommitQueue`).
    ///   - weight, maxWeight, write: as for `GroupCommitQueue`, per lane.
    public init(
        lanes: Int, weight: @escaping @Sendable (Request) -> Int = { _ in 1 }, maxWeight: Int,
        write: @escaping GroupCommitQueue<Request, Response>.Write
    ) {
        precondition(lanes > 0, "at least one lane")
        self.lanes = (0..<lanes).map { _ in GroupCommitQueue(weight: weight, maxWeight: maxWeight, write: write) }
        load = Mutex([Int](repeating: 0, count: lanes))
        self.weight = weight
    }

    /// How many groups each lane handed to `write` so far (for tests and measurements).
    public var groupsWritten: [Int] { lanes.map(\.groupsWritten) }

    /// Writes `request` in the next group of the least loaded lane (the first of equals) and returns its
    /// result once that group's transaction ended.
    public func submit(_ request: Request) async throws -> Response {
        // A request of weight 0 still occupies its lane until it is answered.
        let cost = max(1, weight(request))
        let lane = load.withLock { load in
            let lane = load.indices.min { load[$0] < load[$1] }!
            load[lane] += cost
            return lane
        }
        defer { load.withLock { $0[lane] -= cost } }
        return try await lanes[lane].submit(request)
    }
}
