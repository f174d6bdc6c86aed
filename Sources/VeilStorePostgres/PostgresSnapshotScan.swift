import Foundation
import Logging
import PostgresNIO
import Synchronization
import VeilCore
import VeilStore

/// The unordered scan of training and queries (`EventStore.scan`) on several connections at once, all
/// reading one snapshot: the PostgreSQL analogue of SQLite's `TwoReaderScan`.
///
/// Read as one statement on one connection, the scan was bound by the client: every row was received,
/// handed over and decoded on one thread, while the server's backend sent rows faster than that. Here
/// each lane is a connection of its own, decoding its rows on a task of its own, and reading its share
/// of the day partitions the scan's time range touches (`LanePlan`): whole partitions, shared out by
/// their size, and the largest shared between the lanes by the first byte of the pseudonym so that
/// every lane gets an equal share. (Before, where whole partitions did not share out within 20 %,
/// every lane read every partition and kept its part of the pseudonyms — which made each lane's
/// backend read the whole table: at 5 M events that cost the scan a third of its rate.)
///
/// One snapshot: the first lane opens a REPEATABLE READ, READ ONLY transaction and exports its
/// snapshot (`pg_export_snapshot()`); every other lane opens the same kind of transaction and adopts
/// that snapshot (`SET TRANSACTION SNAPSHOT`) before it reads. The exporting transaction stays open
/// until every lane is done. So the lanes see exactly the commits the first one sees, whatever
/// commits between their starts: every event once, no batch half seen. The partitions are listed in
/// that snapshot too: a day attached after it holds nothing the snapshot sees. A partition is read by
/// its name, so one dropped while the scan runs (retention) fails the scan rather than going missing.
///
/// Chunks reach `body` one at a time (through an actor), in no particular order. Memory holds, per
/// lane, the chunk being filled and postgres-nio's buffer of received rows (it asks the server for
/// more only as rows are taken), whatever the table's size.
///
/// At most one scan of a store runs on several lanes at a time (`gate`); another one meanwhile reads
/// on one connection. A scan holds its first connection while it waits for the next: several scans
/// waiting so could hold every connection of the pool.
final class PostgresSnapshotScan: Sendable {
    /// The connections a scan reads on: the client's decoding, which bounds the scan, spreads over
    /// two cores, and the server's backends share what is left.
    static let lanes = 2

    private let database: VeilPostgresDatabase
    private let gate = Mutex(false)

    init(database: VeilPostgresDatabase) { self.database = database }

    /// Reads every event `filter` admits exactly once into `body`; see the type's contract.
    func run(_ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        guard
            gate.withLock({ busy in
                if busy { return false }
                busy = true
                return true
            })
        else {
            try await database.withConnection("scan events") { connection in
                try await Self.read(Self.statement(filter), on: connection, chunkSize: chunkSize, into: ChunkSink(body),
                    logger: database.logger)
            }
            return
        }
        defer { gate.withLock { $0 = false } }
        try await run(filter, chunkSize: chunkSize, lanes: Self.lanes, sharingSnapshot: true, body)
    }

    /// The scan on `lanes` connections. Tests only: `sharingSnapshot` false lets every lane take a
    /// snapshot of its own, and `beforeOtherLanes` runs after the first lane took its snapshot and
    /// before any other lane begins.
    func run(
        _ filter: EventFilter, chunkSize: Int, lanes: Int, sharingSnapshot: Bool,
        beforeOtherLanes: @Sendable () async throws -> Void = {}, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void
    ) async throws {
        precondition(chunkSize > 0, "a chunk holds at least one event")
        precondition(lanes > 0 && lanes <= 256, "a scan reads on 1 to 256 lanes")
        let sink = ChunkSink(body)
        let logger = database.logger
        try await database.withTransaction("scan events") { first in
            try await Self.beginSnapshot(first, logger: logger)
            let snapshot = try await Self.exportSnapshot(first, logger: logger)
            let plan = LanePlan(partitions: try await Self.partitions(filter, first, logger: logger), lanes: lanes)
            try await beforeOtherLanes()
            try await withLanes(lanes - 1, adopting: sharingSnapshot ? snapshot : nil, [first]) { connections in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (lane, connection) in connections.enumerated() {
                        group.addTask {
                            for statement in plan.statements(filter, lane: lane) {
                                try await Self.read(statement, on: connection, chunkSize: chunkSize, into: sink, logger: logger)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    /// The day partitions of `events` that `filter`'s time range touches, with their size on disk, as
    /// the snapshot of `connection`'s transaction sees them.
    static func partitions(
        _ filter: EventFilter, _ connection: PostgresConnection, logger: Logger
    ) async throws -> [LanePlan.Partition] {
        var partitions: [LanePlan.Partition] = []
        let rows = try await connection.query(
            """
            SELECT c.relname, pg_relation_size(c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'events'::regclass
            """, logger: logger)
        for try await (name, bytes) in rows.decode((String, Int64).self) {
            guard let day = EventPartitions.day(ofTable: name) else { continue }
            let start = day * EventPartitions.dayMillis
            if let time = filter.time, time.upperBound <= start || time.lowerBound >= start + EventPartitions.dayMillis { continue }
            partitions.append(LanePlan.Partition(day: day, bytes: bytes))
        }
        return partitions
    }

    /// Opens `count` more connections, each in a REPEATABLE READ, READ ONLY transaction on `snapshot`
    /// (their own when nil), and runs `body` with `connections` and them; each transaction ends
    /// after `body`.
    private func withLanes(
        _ count: Int, adopting snapshot: String?, _ connections: [PostgresConnection],
        _ body: @escaping @Sendable ([PostgresConnection]) async throws -> Void
    ) async throws {
        guard count > 0 else { return try await body(connections) }
        // Failures are mapped once, by the first lane's transaction (`VeilPostgresDatabase.withTransaction`):
        // mapped here too, a caller's error would lose its mark on the way out.
        let logger = database.logger
        try await database.client.withConnection { pooled in
            try await pooled.withTransaction(logger: logger) { connection in
                try await Self.beginSnapshot(connection, logger: logger)
                if let snapshot {
                    try await connection.query("SET TRANSACTION SNAPSHOT '\(unescaped: snapshot)'", logger: logger).drain()
                }
                try await withLanes(count - 1, adopting: snapshot, connections + [connection], body)
            }
        }
    }

    /// The first statement of a lane's transaction: one snapshot for all its reads, which write nothing.
    private static func beginSnapshot(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger).drain()
    }

    /// The running transaction's snapshot, exported for other connections (an id such as
    /// `00000003-0000001B-1`; checked before it is written into `SET TRANSACTION SNAPSHOT`, which
    /// takes no parameters).
    private static func exportSnapshot(_ connection: PostgresConnection, logger: Logger) async throws -> String {
        var snapshot = ""
        for try await id in try await connection.query("SELECT pg_export_snapshot()", logger: logger).decode(String.self) {
            snapshot = id
        }
        let allowed = Set("0123456789ABCDEFabcdef-")
        guard !snapshot.isEmpty, snapshot.count <= 64, snapshot.allSatisfy(allowed.contains) else {
            throw VeilError(.internal, field: "events", "the server exported a snapshot id of an unexpected form")
        }
        return snapshot
    }

    /// The events of `table` (`events`, or one day's partition) that `filter` admits, with only the
    /// columns `filter.fields` needs (`PostgresEventRow.selectList(reading:)`); with `firstBytes`, only
    /// those whose pseudonym's first byte is in that part of 0...255. On `events` the time range is a
    /// condition on the partition key, so only its days' partitions are read.
    static func statement(_ filter: EventFilter, from table: String = "events", firstBytes: Range<Int>? = nil) -> PostgresQuery {
        let lower = filter.time?.lowerBound ?? Int64.min
        let upper = filter.time?.upperBound ?? Int64.max
        let types = filter.types.map { $0.map(\.rawValue).sorted() }
        let select: PostgresQuery = """
            SELECT \(unescaped: PostgresEventRow.selectList(reading: filter.fields)) FROM \(unescaped: table)
            WHERE ts_ms >= \(lower) AND ts_ms < \(upper) AND (\(types == nil) OR type = ANY(\(types ?? [])))
            """
        guard let firstBytes else { return select }
        return PostgresQuery(
            unsafeSQL: select.sql + " AND get_byte(pid, 0) >= \(firstBytes.lowerBound) AND get_byte(pid, 0) < \(firstBytes.upperBound)",
            binds: select.binds)
    }

    /// Streams `query`'s rows from the server (postgres-nio asks for more only as rows are taken) and
    /// hands them to `sink` in chunks of `chunkSize`.
    private static func read(
        _ query: PostgresQuery, on connection: PostgresConnection, chunkSize: Int, into sink: ChunkSink, logger: Logger
    ) async throws {
        var chunk: [StoredEvent] = []
        chunk.reserveCapacity(chunkSize)
        for try await row in try await connection.query(query, logger: logger) {
            chunk.append(try PostgresEventRow.decode(row).event)
            if chunk.count == chunkSize {
                try await sink.deliver(chunk)
                chunk = []
                chunk.reserveCapacity(chunkSize)
            }
        }
        if !chunk.isEmpty { try await sink.deliver(chunk) }
    }
}

/// Which lane of a `PostgresSnapshotScan` reads what, so that every lane reads about an equal share of
/// the bytes (`pg_relation_size`) whatever the days' sizes: the day partitions but the largest are
/// dealt out whole, largest first, to the lane with the least so far; then the largest is shared
/// between the lanes that are short of an even share, each reading it for the pseudonyms whose first
/// byte is in a part of 0..<256 as wide as its shortfall (pseudonyms are keyed hashes, uniform over
/// their space). A lane that reads part of a partition makes its backend read all of it, so only one
/// partition is read that way. With whole days only, the 12 days of 1 M events one second apart (the
/// last one partial) gave the two lanes 518,400 and 481,600 events, and the scan waited for the larger.
struct LanePlan: Sendable, Equatable {
    struct Partition: Sendable, Hashable {
        var day: Int64
        /// Size on disk (`pg_relation_size`), what reading it whole costs.
        var bytes: Int64
    }

    /// One statement of a lane: a day partition, whole (`firstBytes` nil) or only the pseudonyms whose
    /// first byte is in `firstBytes`.
    struct Read: Sendable, Equatable {
        var day: Int64
        var firstBytes: Range<Int>?
    }

    /// What each lane reads, in order.
    let reads: [[Read]]

    init(partitions: [Partition], lanes: Int) {
        precondition(lanes > 0, "a scan reads on at least one lane")
        let sorted = partitions.sorted { ($0.bytes, $1.day) > ($1.bytes, $0.day) }
        guard let largest = sorted.first else {
            reads = Array(repeating: [], count: lanes)
            return
        }
        var loads = [Int64](repeating: 0, count: lanes)
        var reads = [[Read]](repeating: [], count: lanes)
        for partition in sorted.dropFirst() {
            let lane = loads.indices.min { (loads[$0], $0) < (loads[$1], $1) }!
            loads[lane] += partition.bytes
            reads[lane].append(Read(day: partition.day, firstBytes: nil))
        }
        // The largest day's first bytes, in proportion to each lane's shortfall of an even share.
        let evenShare = Double(loads.reduce(largest.bytes, +)) / Double(lanes)
        let shortfalls = loads.map { max(0, evenShare - Double($0)) }
        let short = shortfalls.reduce(0, +)
        var start = 0
        var cumulative = 0.0
        for lane in 0..<lanes {
            cumulative += shortfalls[lane]
            let end = short > 0 ? (lane == lanes - 1 ? 256 : Int((256 * cumulative / short).rounded())) : (lane == 0 ? 256 : 0)
            guard end > start else { continue }
            reads[lane].append(Read(day: largest.day, firstBytes: start == 0 && end == 256 ? nil : start..<end))
            start = end
        }
        self.reads = reads
    }

    /// The statements lane `lane` runs, one after another.
    func statements(_ filter: EventFilter, lane: Int) -> [PostgresQuery] {
        reads[lane].map { PostgresSnapshotScan.statement(filter, from: EventPartitions.tableName(day: $0.day), firstBytes: $0.firstBytes) }
    }
}

/// Hands chunks to the scan's caller one at a time, from however many lanes.
private actor ChunkSink {
    private let body: @Sendable ([StoredEvent]) throws -> Void

    init(_ body: @escaping @Sendable ([StoredEvent]) throws -> Void) { self.body = body }

    func deliver(_ chunk: [StoredEvent]) throws {
        try CallerError.marking { try body(chunk) }
    }
}
