import Foundation
import PostgresNIO
import Testing
import VeilCore
import VeilStore
import VeilTestSupport

@testable import VeilStorePostgres

@Suite(.enabled(if: PostgresTestCluster.unavailableReason == nil, "PostgreSQL is not installed"))
struct PostgresDatabaseTests {
    @Test func migrateIsIdempotentAndOpenRefusesAnUnmigratedDatabase() async throws {
        let location = try await PostgresTestDatabase.fresh()
        await expectError {
            _ = try await VeilPostgresDatabase.open(location)
        } matches: { error in
            let message = (error as? VeilError)?.message ?? ""
            return message.contains("has no Veil schema") && message.contains("veil db migrate") && message.contains(location.server)
        }
        let (first, applied) = try await VeilPostgresDatabase.migrate(location)
        first.close()
        #expect(applied == PostgresSchema.migrations.map(\.version))
        let (second, again) = try await VeilPostgresDatabase.migrate(location)
        second.close()
        #expect(again.isEmpty)
        let status = try await VeilPostgresDatabase.schemaStatus(location)
        #expect(status.current == PostgresSchema.latest && status.needed == PostgresSchema.latest)
        let opened = try await VeilPostgresDatabase.open(location)
        opened.close()
    }

    @Test func concurrentMigrationsApplyEachVersionOnce() async throws {
        let location = try await PostgresTestDatabase.fresh()
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let (database, applied) = try await VeilPostgresDatabase.migrate(location)
                    database.close()
                    return applied
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(applied.sorted() == PostgresSchema.migrations.map(\.version))
    }

    @Test func aNewerSchemaIsRefusedNamingBothVersions() async throws {
        let database = try await PostgresTestDatabase.migrated()
        defer { database.close() }
        try await database.withConnection("pretend a newer Veil migrated") { connection in
            try await connection.query("INSERT INTO veil_schema (version, name) VALUES (999, 'future')", logger: database.logger).drain()
        }
        await expectError {
            _ = try await VeilPostgresDatabase.open(database.location)
        } matches: { error in
            let message = (error as? VeilError)?.message ?? ""
            return message.contains("version 999") && message.contains("upgrade Veil")
        }
    }

    /// A hang fails by the time limit (a bound against hanging, not a speed claim: the message names
    /// the cause, so no wall-clock assertion is needed). The connect timeout is long so that only the
    /// refusal can end the wait, even in a test process whose cooperative threads are starved.
    @Test(.timeLimit(.minutes(10)))
    func aClosedPortIsAClearErrorNamingTheHostAndNeverThePassword() async throws {
        let port = try closedLoopbackPort()
        let url = try DatabaseURL(parsing: "postgresql://veil:topsecret@127.0.0.1:\(port)/veil?sslmode=disable&connect_timeout=300")
        guard case .postgres(let location) = url else { return }
        await expectError {
            _ = try await VeilPostgresDatabase.open(location)
        } matches: { error in
            let text = "\(error)"
            return text.contains("127.0.0.1:\(port)") && text.contains("refused") && !text.contains("topsecret")
        }
    }

    /// The URL's connect_timeout (1 s) is what ends the wait: the message says it timed out. A hang
    /// fails by the time limit.
    @Test(.timeLimit(.minutes(10)))
    func aServerThatNeverAnswersTimesOutInsteadOfHanging() async throws {
        // A listener that accepts connections and never says a word.
        let listener = try SilentListener()
        defer { listener.close() }
        let url = try DatabaseURL(parsing: "postgresql://veil:topsecret@127.0.0.1:\(listener.port)/veil?sslmode=disable&connect_timeout=1")
        guard case .postgres(let location) = url else { return }
        await expectError {
            _ = try await VeilPostgresDatabase.open(location)
        } matches: { error in
            let text = "\(error)"
            // The handshake's deadline, or (on a starved machine) the TCP connect's own 1 s timeout.
            let timedOut = text.contains("did not answer within 1 s") || text.contains("(timed out)")
            return text.contains("127.0.0.1:\(listener.port)") && timedOut && !text.contains("topsecret")
        }
    }

    @Test func aMissingDatabaseIsNamed() async throws {
        var location = try await PostgresTestDatabase.fresh()
        location.database = "no_such_database"
        await expectError {
            _ = try await VeilPostgresDatabase.open(location)
        } matches: { error in
            "\(error)".contains("no database named no_such_database")
        }
    }

    /// A loopback port nothing listens on (bound, then closed).
    private func closedLoopbackPort() throws -> Int {
        let listener = try SilentListener()
        let port = listener.port
        listener.close()
        return port
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections (the kernel does, from its backlog) and never
/// reads or writes.
final class SilentListener: Sendable {
    let port: Int
    private let socket: Int32

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.socket = socket
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0, listen(socket, 16) == 0 else {
            _ = Glibc.close(socket)
            throw VeilError(.unavailable, "cannot listen on loopback")
        }
        var bound4 = sockaddr_in()
        _ = withUnsafeMutablePointer(to: &bound4) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        port = Int(UInt16(bigEndian: bound4.sin_port))
    }

    func close() {
        _ = Glibc.close(socket)
    }
}
