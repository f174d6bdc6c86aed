import Foundation
import VeilCore

/// Where the store lives: `--database-url URL` / `VEIL_DATABASE_URL`, parsed here and nowhere else.
///
/// - no value, `sqlite:` or `sqlite://` → `.sqlite`: `veil.sqlite` in the data directory (the default);
/// - `postgres://…` or `postgresql://…` → `.postgres`, in libpq's URL form:
///   `postgresql://[user[:password]@][host][:port][/database][?param=value&…]`, where `host` may be a
///   name, an IPv4 address or a bracketed IPv6 address; no host, or a `host` parameter (or a
///   percent-encoded host) that starts with `/`, names the folder of a unix socket
///   (`postgresql:///veil?host=/run/postgresql`), whose file is `<folder>/.s.PGSQL.<port>`.
///   Parameters: `host`, `port`, `sslmode` (`disable`, `prefer`, `require`, `verify-full`; default
///   `prefer` over TCP, `disable` over a socket), `connect_timeout` (seconds, default 10). Any other
///   parameter is an error. The user defaults to the user running the process and the database to
///   the user, as with libpq.
///
/// A password is kept only to connect: `description` and every error leave it out (and never echo
/// the URL itself), so a URL can be printed, logged and shown in `--help` output as it is described.
public enum DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    case sqlite
    case postgres(PostgresLocation)

    /// The name errors give the setting: the option a user types.
    public static let field = "database_url"

    /// Parses a `--database-url` value; nil or empty means the default (`.sqlite`).
    public init(parsing text: String?) throws {
        guard let text, !text.isEmpty else {
            self = .sqlite
            return
        }
        if text == "sqlite:" || text == "sqlite://" {
            self = .sqlite
            return
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw Self.invalid("is not a URL; expected postgres://…, postgresql://… or sqlite:")
        }
        let scheme = text[..<colon].lowercased()
        switch scheme {
        case "postgres", "postgresql": self = .postgres(try PostgresLocation(url: text))
        case "sqlite":
            throw Self.invalid("takes no path after sqlite: (the SQLite database is veil.sqlite in --data-dir)")
        default:
            let shown = scheme.count <= 16 && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" } ? " '\(scheme)'" : ""
            throw Self.invalid("has the scheme\(shown), which Veil does not know; expected postgres://, postgresql:// or sqlite:")
        }
    }

    public var description: String {
        switch self {
        case .sqlite: "sqlite: (veil.sqlite in the data directory)"
        case .postgres(let location): location.description
        }
    }

    static func invalid(_ rule: String) -> VeilError {
        VeilError(.invalidInput, field: field, "the database URL \(rule)")
    }
}

/// A PostgreSQL server and database to connect to, as `DatabaseURL` parsed it.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// How to reach the server.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`<folder>/.s.PGSQL.<port>`).
        case unixSocket(path: String)
    }

    /// Whether to talk TLS, as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, Equatable {
        /// Plain text.
        case disable
        /// TLS when the server offers it, without verifying its certificate.
        case prefer
        /// TLS or nothing, without verifying the certificate.
        case require
        /// TLS with the certificate verified against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var user: String
    /// Kept only to connect: never printed (see `description`).
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// How long to wait for the server to answer a connection before giving up.
    public var connectTimeout: Duration

    public init(
        endpoint: Endpoint, user: String, password: String? = nil, database: String, tls: TLSMode = .disable,
        connectTimeout: Duration = .seconds(10)
    ) {
        self.endpoint = endpoint
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.connectTimeout = connectTimeout
    }

    /// The server as errors name it: `host:port`, or `the socket <path>`. Holds no credential.
    public var server: String {
        switch endpoint {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let path): "the socket \(path)"
        }
    }

    /// `postgresql://user@host:port/database` (or `…/database?host=<socket folder>`), without the
    /// password: safe to log and to print.
    public var description: String {
        switch endpoint {
        case .tcp:
            return "postgresql://\(user)@\(server)/\(database)"
        case .unixSocket(let path):
            let folder = (path as NSString).deletingLastPathComponent
            return "postgresql://\(user)@/\(database)?host=\(folder)"
        }
    }

    /// Parses a `postgres://` or `postgresql://` URL (see `DatabaseURL`).
    init(url text: String) throws {
        guard let schemeEnd = text.range(of: "://") else {
            throw DatabaseURL.invalid("must start with postgres:// or postgresql://")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard !rest.contains("#") else { throw DatabaseURL.invalid("must not have a fragment (#…)") }
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }

        var user: String?
        var password: String?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], what: "user name")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], what: "password")
            } else {
                user = try Self.decode(userInfo, what: "user name")
            }
        }

        var host: String?
        var port: Int?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw DatabaseURL.invalid("has an IPv6 host without its closing ]") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw DatabaseURL.invalid("has text after the IPv6 host's ]") }
                port = try Self.port(after.dropFirst())
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = try Self.decode(hostPort[..<colon], what: "host")
            port = try Self.port(hostPort[hostPort.index(after: colon)...])
        } else if !hostPort.isEmpty {
            host = try Self.decode(hostPort, what: "host")
        }
        if host?.isEmpty == true { host = nil }

        var tls: TLSMode?
        var timeout = Duration.seconds(10)
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(parts[0], what: "parameter name")
            let value = parts.count > 1 ? try Self.decode(parts[1], what: "parameter \(Self.safeName(name))") : ""
            switch name {
            case "host": host = value.isEmpty ? nil : value
            case "port": port = try Self.port(Substring(value))
            case "sslmode":
                switch value {
                case "disable", "allow": tls = .disable
                case "prefer": tls = .prefer
                case "require", "verify-ca": tls = .require
                case "verify-full": tls = .verifyFull
                default: throw DatabaseURL.invalid("has an sslmode Veil does not know; use disable, prefer, require or verify-full")
                }
            case "connect_timeout":
                guard let seconds = Int(value), (1...3600).contains(seconds) else {
                    throw DatabaseURL.invalid("has a connect_timeout that is not a whole number of seconds from 1 to 3600")
                }
                timeout = .seconds(seconds)
            default:
                throw DatabaseURL.invalid(
                    "has the parameter \(Self.safeName(name)), which Veil does not know; it takes host, port, sslmode and connect_timeout")
            }
        }

        let resolvedPort = port ?? 5432
        let endpoint: Endpoint
        if let host, !host.hasPrefix("/") {
            endpoint = .tcp(host: host, port: resolvedPort)
        } else {
            let folder = host ?? "/run/postgresql"
            endpoint = .unixSocket(path: (folder as NSString).appendingPathComponent(".s.PGSQL.\(resolvedPort)"))
        }
        let database = try Self.decode(path, what: "database name")
        guard !database.contains("/") else { throw DatabaseURL.invalid("has a path with more than one part; the path is the database name") }
        let resolvedUser = user.flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.userName
        let isSocket = if case .unixSocket = endpoint { true } else { false }
        self.init(
            endpoint: endpoint, user: resolvedUser, password: password, database: database.isEmpty ? resolvedUser : database,
            tls: tls ?? (isSocket ? .disable : .prefer), connectTimeout: timeout)
    }

    private static func port(_ text: Substring) throws -> Int {
        guard let port = Int(text), (1...65_535).contains(port) else {
            throw DatabaseURL.invalid("has a port that is not a number from 1 to 65535")
        }
        return port
    }

    private static func decode(_ text: Substring, what: String) throws -> String {
        guard let decoded = String(text).removingPercentEncoding else {
            throw DatabaseURL.invalid("has a \(what) with a malformed percent escape")
        }
        return decoded
    }

    /// A parameter name as an error may show it: short names of letters, digits and `_` only (a
    /// malformed URL could put a password where a name belongs).
    private static func safeName(_ name: String) -> String {
        name.count <= 32 && name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) ? "'\(name)'" : "(not shown)"
    }
}
