import Foundation
import PostgresNIO
import Synchronization
import Testing
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

/// One throwaway cluster for this test process (started on first use, stopped at exit), and a fresh
/// database in it for each test, so tests are independent and may run in parallel.
enum PostgresTestDatabase {
    private static let cluster = Mutex<PostgresTestCluster?>(nil)

    /// The connect timeout of every location these tests use. The connect timeout is a wall-clock
    /// deadline raced, inside the test process, against the connection's handshake — and the test
    /// process also runs the CLI tests, which block its few cooperative threads while their child
    /// processes run. With the default 10 s, a busy CI machine's starved handshake lost that race
    /// and every test here failed with "did not answer within 10 s" although the server was up. The
    /// timeout itself is tested where it is the subject (`PostgresDatabaseTests`, with its own URLs).
    static let connectTimeout: Duration = .seconds(300)

    /// The shared cluster's location: its database `postgres`, `connectTimeout`.
    static func clusterLocation() throws -> PostgresLocation {
        guard case .postgres(var location) = try DatabaseURL(parsing: try clusterURL()) else {
            fatalError("the cluster URL is PostgreSQL")
        }
        location.connectTimeout = connectTimeout
        return location
    }

    /// The shared cluster's URL.
    static func clusterURL() throws -> String {
        try cluster.withLock { cluster in
            if let cluster { return cluster.url }
            let started = try PostgresTestCluster()
            cluster = started
            atexit { PostgresTestDatabase.stopCluster() }
            return started.url
        }
    }

    private static func stopCluster() {
        cluster.withLock { $0?.stop() }
    }

    /// A new, empty database in the shared cluster; its location (no schema yet).
    static func fresh() async throws -> PostgresLocation {
        var location = try clusterLocation()
        let name = "veil_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        let admin = try await VeilPostgresDatabase.connectForAdministration(location)
        defer { admin.close() }
        try await admin.withConnection("create a test database") { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: admin.logger).drain()
        }
        location.database = name
        return location
    }

    /// Drops a database `fresh` made, closing whatever connections are still open on it.
    static func drop(_ location: PostgresLocation) async {
        guard let cluster = try? clusterLocation(),
            let admin = try? await VeilPostgresDatabase.connectForAdministration(cluster)
        else { return }
        defer { admin.close() }
        _ = try? await admin.withConnection("drop a test database") { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(location.database)\" WITH (FORCE)"), logger: admin.logger
            ).drain()
        }
    }

    /// A fresh database, migrated and opened.
    static func migrated() async throws -> VeilPostgresDatabase {
        let location = try await fresh()
        let (database, _) = try await VeilPostgresDatabase.migrate(location)
        database.close()
        return try await VeilPostgresDatabase.open(location)
    }
}

/// Expects `body` to throw an error that `matches` accepts.
func expectError(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void, matches: (any Error) -> Bool
) async {
    do {
        try await body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
    } catch {
        #expect(matches(error), "\(error)", sourceLocation: sourceLocation)
    }
}
