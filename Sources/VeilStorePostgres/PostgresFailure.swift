import Foundation
import PostgresNIO
import VeilCore
import VeilStore

/// Maps what postgres-nio throws to a `VeilError`, in one place.
///
/// Messages name the server (`host:port` or the socket), the user and database where they help, the
/// operation, and the SQLSTATE; never the password, a query's parameters or the server's message
/// text (whose DETAIL can quote a row, e.g. a duplicate key's value).
/// - cannot connect, connection lost, too many connections, disk full, out of memory, shutting
///   down, serialization failure or deadlock → `.unavailable` (retrying may help);
/// - wrong password, missing user or database → `.unavailable` with what to fix (nothing works until
///   it is fixed, and it is not the caller's input);
/// - a constraint (SQLSTATE class 23) → `.conflict` (HTTP 409);
/// - anything else → `.internal` (HTTP 500) with a `cause` naming the operation and the SQLSTATE (or
///   the error's type), which the gateway logs.
enum PostgresFailure {
    static func map(
        _ error: any Error, doing: String, server: String, user: String? = nil, database: String? = nil
    ) -> any Error {
        if let error = error as? PostgresTransactionError,
            let inner = error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError
        {
            return map(inner, doing: doing, server: server, user: user, database: database)
        }
        if let error = error as? CallerError { return error.error }
        if let error = error as? VeilError { return error }
        if error is CancellationError { return error }
        guard let error = error as? PSQLError else {
            return VeilError(
                .internal, field: "store", "a store operation failed; nothing was written",
                cause: "\(doing): \(String(reflecting: type(of: error)))")
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?"
            return serverError(state: state, doing: doing, server: server, user: user, database: database)
        case .connectionError:
            return VeilError(
                .unavailable, field: DatabaseURL.field,
                "cannot connect to PostgreSQL at \(server) (\(connectionCause(error.underlying))); check the host, the port and that the server runs")
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
            return VeilError(.unavailable, field: DatabaseURL.field, "the connection to PostgreSQL at \(server) closed while trying to \(doing); retry later")
        case .sslUnsupported:
            return VeilError(
                .unavailable, field: DatabaseURL.field,
                "PostgreSQL at \(server) does not offer TLS, which the URL's sslmode requires; use sslmode=disable only on a trusted network")
        case .authMechanismRequiresPassword:
            return VeilError(.unavailable, field: DatabaseURL.field, "PostgreSQL at \(server) asks for a password and the database URL has none")
        case .unsupportedAuthMechanism, .saslError:
            return VeilError(.unavailable, field: DatabaseURL.field, "PostgreSQL at \(server) refused the login (authentication failed)")
        default:
            return VeilError(
                .internal, field: "store", "a store operation failed; nothing was written", cause: "\(doing): PostgresNIO \(error.code)")
        }
    }

    private static func serverError(state: String, doing: String, server: String, user: String?, database: String?) -> VeilError {
        let who = user.map { " for user \($0)" } ?? ""
        switch state {
        case "28P01", "28000":
            return VeilError(
                .unavailable, field: DatabaseURL.field,
                "PostgreSQL at \(server) refused the login\(who) (SQLSTATE \(state): wrong password, or no access for this user)")
        case "3D000":
            return VeilError(
                .unavailable, field: DatabaseURL.field,
                "PostgreSQL at \(server) has no database \(database.map { "named \($0)" } ?? "by that name"); create it (createdb) or fix the URL's path")
        case "53100":
            return VeilError(.unavailable, field: DatabaseURL.field, "the disk of PostgreSQL at \(server) is full: nothing was written (while trying to \(doing))")
        case "40001", "40P01", "55P03", "57014":
            return VeilError(.unavailable, field: DatabaseURL.field, "PostgreSQL at \(server) could not \(doing) now (SQLSTATE \(state)); retry")
        default:
            if state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57") || state.hasPrefix("58") {
                return VeilError(
                    .unavailable, field: DatabaseURL.field, "PostgreSQL at \(server) cannot \(doing) right now (SQLSTATE \(state)); retry later")
            }
            if state.hasPrefix("23") {
                return VeilError(
                    .conflict, field: "store", "the change conflicts with what is stored; nothing was written",
                    cause: "\(doing): SQLSTATE \(state)")
            }
            return VeilError(
                .internal, field: "store", "a store operation failed; nothing was written", cause: "\(doing): SQLSTATE \(state)")
        }
    }

    /// "connection refused", "host not found", … from NIO's error, without its text (which is safe,
    /// but long).
    private static func connectionCause(_ underlying: (any Error)?) -> String {
        guard let underlying else { return "no connection" }
        let text = String(describing: underlying).lowercased()
        if text.contains("refused") { return "connection refused" }
        if text.contains("timeout") || text.contains("timed out") { return "timed out" }
        if text.contains("no such file") || text.contains("enoent") { return "no socket there" }
        if text.contains("resolve") || text.contains("lookup") || text.contains("nodename") || text.contains("name or service") {
            return "host name not found"
        }
        if text.contains("permission") { return "permission denied" }
        return "\(type(of: underlying))"
    }
}

/// An error thrown by a caller's closure run inside a store operation (a batch producer, an escrow, a
/// budget decision). It crosses the store untouched: the operation rethrows the closure's own error.
struct CallerError: Error {
    let error: any Error

    /// Runs a caller's closure, marking what it throws as the caller's.
    static func marking<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw CallerError(error: error) }
    }
}
