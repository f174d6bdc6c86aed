import Foundation

/// A throwaway PostgreSQL cluster for one test (or benchmark): `scripts/pg-cluster.sh start` in a new
/// folder under /tmp, `stop` (which deletes the folder) when the test is done. The server runs with
/// `fsync = on` and `synchronous_commit = on`; as root it runs as the unprivileged user `veilpg`.
///
/// Clusters are independent: each has its own folder, socket and (with `tcp`) loopback port, so tests
/// may run in parallel. Starting one takes about 2–7 s (initdb).
public final class PostgresTestCluster: Sendable {
    /// The cluster's database URL (`postgresql://veil@/postgres?host=<folder>&port=5432`, or a loopback
    /// TCP URL with `tcp`). Holds no password: local connections are trusted.
    public let url: String
    /// The cluster's folder (data, socket, logs).
    public let directory: String

    /// Why a cluster cannot be started here (no PostgreSQL binaries), or nil when it can.
    public static let unavailableReason: String? = {
        let result = try? run(["bindir"])
        return result?.status == 0 ? nil : "PostgreSQL's initdb/pg_ctl are not installed (scripts/install-deps.sh installs them)"
    }()

    /// The path of the PostgreSQL program `name` (`pg_dump`, …) beside `initdb`, nil where it is not
    /// installed.
    public static func tool(_ name: String) -> String? {
        guard let result = try? run(["bindir"]), result.status == 0,
            let folder = result.output.split(separator: "\n").last.map(String.init)
        else { return nil }
        // `initdb` may be a symbolic link into the installation's own folder, which holds the rest.
        let installation = URL(fileURLWithPath: folder).appendingPathComponent("initdb").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let path = installation.appendingPathComponent(name).path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Starts a new cluster. `tcp`: listen on a free 127.0.0.1 port too (the URL names it); `bench`:
    /// the benchmark settings of `pg-cluster.sh` (durability unchanged).
    public init(tcp: Bool = false, bench: Bool = false) throws {
        directory = "/tmp/veil-pg-\(UUID().uuidString.prefix(8).lowercased())"
        var arguments = ["start", directory]
        if tcp { arguments.append("--tcp") }
        if bench { arguments.append("--bench") }
        let result = try Self.run(arguments)
        guard result.status == 0, let line = result.output.split(separator: "\n").last else {
            throw ClusterError(message: "pg-cluster.sh start failed (\(result.status)): \(result.errors)")
        }
        url = String(line)
    }

    /// Stops the server and deletes the folder.
    public func stop() {
        _ = try? Self.run(["stop", directory])
    }

    deinit { stop() }

    /// `scripts/pg-cluster.sh` of this package.
    public static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("scripts/pg-cluster.sh").path
    }()

    /// The arguments that point a PostgreSQL client program (`psql`, `pg_dump`, `pg_restore`) at this
    /// cluster's database: its socket folder, the port naming the socket file, the user and database of
    /// `url`.
    public var clientArguments: [String] {
        get throws {
            let port = try String(contentsOfFile: directory + "/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            return ["--host", directory, "--port", port, "--username", "veil", "--dbname", "postgres"]
        }
    }

    /// Runs `sql` with `psql` in `database` (stopping at the first error) and returns its output,
    /// unaligned and without headers: one line per row, `|` between columns. Throws with psql's message
    /// when it fails.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        guard let psql = Self.tool("psql") else { throw ClusterError(message: "psql is not installed beside initdb") }
        var arguments = try clientArguments
        if let name = arguments.firstIndex(of: "--dbname").map({ $0 + 1 }) { arguments[name] = database }
        let result = try Subprocess.run(psql, arguments + ["--no-psqlrc", "--set", "ON_ERROR_STOP=1", "-At", "-c", sql])
        guard result.status == 0 else { throw ClusterError(message: "psql failed (\(result.status)): \(result.errors)") }
        return result.output
    }

    /// Runs the PostgreSQL client program `name` (beside `initdb`) on this cluster's database with
    /// `arguments` after the connection's; throws with its message when it fails.
    public func client(_ name: String, _ arguments: [String]) throws {
        guard let program = Self.tool(name) else { throw ClusterError(message: "\(name) is not installed beside initdb") }
        let result = try Subprocess.run(program, try clientArguments + arguments)
        guard result.status == 0 else { throw ClusterError(message: "\(name) failed (\(result.status)): \(result.errors)") }
    }

    /// Runs the script with `arguments` (`Subprocess`: no descriptor of this process passes on to the
    /// server the script starts).
    private static func run(_ arguments: [String]) throws -> Subprocess.Outcome {
        try Subprocess.run(script, arguments)
    }

    public struct ClusterError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }
}
