import Foundation
import Logging
import PostgresNIO
import VeilCore
import VeilStore

/// One PostgreSQL database shared by every Veil process that names it (`--database-url`): a pool of
/// connections (`PostgresClient`) running for the life of this object.
///
/// Opening connects once first, with the URL's `connect_timeout` over the whole handshake, so a wrong
/// host, a closed port, a server that never answers, a wrong password or a missing database is a
/// clear `VeilError` naming the server (never the password) within that time, not a hang. Then it
/// checks the schema: `open` refuses a database whose schema is older than this binary's (run
/// `veil db migrate`) or newer (upgrade Veil); `migrate` brings it up to date.
///
/// Durability: the server's `synchronous_commit` decides when a COMMIT returns; Veil needs `on` (the
/// default), so that a commit that returned is on disk. `open` refuses a server running with it off.
public final class VeilPostgresDatabase: Sendable {
    public let location: PostgresLocation
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// Connects to `location` and checks that its schema is this binary's (`PostgresSchema.latest`).
    public static func open(_ location: PostgresLocation, maximumConnections: Int = 20) async throws -> VeilPostgresDatabase {
        let database = try await VeilPostgresDatabase(location: location, maximumConnections: maximumConnections)
        do {
            try await PostgresSchema.requireCurrent(in: database)
            try await database.requireDurableCommits()
        } catch {
            database.close()
            throw error
        }
        return database
    }

    /// Connects to `location` and applies every migration it lacks (`veil db migrate`); returns the
    /// database and the versions applied now (empty when it was up to date).
    public static func migrate(_ location: PostgresLocation) async throws -> (database: VeilPostgresDatabase, applied: [Int]) {
        let database = try await VeilPostgresDatabase(location: location, maximumConnections: 2)
        do {
            let applied = try await PostgresSchema.migrate(database)
            return (database, applied)
        } catch {
            database.close()
            throw error
        }
    }

    /// The schema version the database is at (nil: no Veil schema) and the one this binary needs, for
    /// `veil db status`; checks nothing else.
    public static func schemaStatus(_ location: PostgresLocation) async throws -> (current: Int?, needed: Int) {
        let database = try await connectForAdministration(location)
        defer { database.close() }
        return (try await PostgresSchema.version(in: database), PostgresSchema.latest)
    }

    /// Connects without checking the schema (status, tests that create databases).
    static func connectForAdministration(_ location: PostgresLocation) async throws -> VeilPostgresDatabase {
        try await VeilPostgresDatabase(location: location, maximumConnections: 1)
    }

    private init(location: PostgresLocation, maximumConnections: Int) async throws {
        self.location = location
        var logger = Logger(label: "veil.postgres")
        logger.logLevel = .critical
        self.logger = logger
        try await Self.probe(location, logger: logger)
        var configuration = Self.clientConfiguration(location)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = location.connectTimeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    /// Stops the pool; queries after this fail.
    public func close() {
        runner.cancel()
    }

    deinit { runner.cancel() }

    /// Runs `body` on one pooled connection, mapping failures (`PostgresFailure`).
    func withConnection<T: Sendable>(_ doing: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw PostgresFailure.map(error, doing: doing, server: location.server)
        }
    }

    /// Runs `body` in one transaction (BEGIN … COMMIT; ROLLBACK if it throws). Returns after the COMMIT
    /// returned, i.e. once the transaction is durable.
    func withTransaction<T: Sendable>(_ doing: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        } catch {
            throw PostgresFailure.map(error, doing: doing, server: location.server)
        }
    }

    /// Refuses a server where a returned COMMIT might not be on disk yet.
    private func requireDurableCommits() async throws {
        let setting = try await withConnection("check the server's settings") { connection in
            var value = ""
            for try await (text) in try await connection.query("SHOW synchronous_commit", logger: logger).decode(String.self) {
                value = text
            }
            return value
        }
        guard setting != "off" else {
            throw VeilError(
                .unavailable, field: DatabaseURL.field,
                "PostgreSQL at \(location.server) runs with synchronous_commit = off, so an acknowledged write could be lost in a crash; set it to on")
        }
    }

    /// Connects once and runs `SELECT 1`, all within the connect timeout.
    private static func probe(_ location: PostgresLocation, logger: Logger) async throws {
        do {
            let configuration = try connectionConfiguration(location)
            try await withDeadline(location.connectTimeout) {
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                defer { Task { try? await connection.close() } }
                try await connection.query("SELECT 1", logger: logger).drain()
            }
        } catch is DeadlineExceeded {
            throw VeilError(
                .unavailable, field: DatabaseURL.field,
                "PostgreSQL at \(location.server) did not answer within \(Int(location.connectTimeout.components.seconds)) s (connect_timeout); check the host, the port and the network")
        } catch {
            throw PostgresFailure.map(error, doing: "connect", server: location.server, user: location.user, database: location.database)
        }
    }

    private static func clientConfiguration(_ location: PostgresLocation) -> PostgresClient.Configuration {
        switch location.endpoint {
        case .unixSocket(let path):
            return PostgresClient.Configuration(
                unixSocketPath: path, username: location.user, password: location.password, database: location.database)
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS
            switch location.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(unverified)
            case .require: tls = .require(unverified)
            case .verifyFull: tls = .require(.makeClientConfiguration())
            }
            return PostgresClient.Configuration(
                host: host, port: port, username: location.user, password: location.password, database: location.database, tls: tls)
        }
    }

    /// The configuration of the one connection `probe` makes: the pool's, for one connection.
    private static func connectionConfiguration(_ location: PostgresLocation) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case .unixSocket(let path):
            configuration = PostgresConnection.Configuration(
                unixSocketPath: path, username: location.user, password: location.password, database: location.database)
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            switch location.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: unverified))
            case .require: tls = .require(try NIOSSLContext(configuration: unverified))
            case .verifyFull: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            configuration = PostgresConnection.Configuration(
                host: host, port: port, username: location.user, password: location.password, database: location.database, tls: tls)
        }
        configuration.options.connectTimeout = TimeAmount(location.connectTimeout)
        return configuration
    }

    /// TLS that encrypts without checking the certificate (libpq's `prefer` and `require`).
    private static var unverified: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return configuration
    }
}

/// The deadline of `withDeadline` passed.
struct DeadlineExceeded: Error {}

/// Runs `body`, cancelling it and throwing `DeadlineExceeded` once `limit` has passed.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
