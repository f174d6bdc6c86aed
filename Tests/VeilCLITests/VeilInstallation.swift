import Foundation
import GRDB
import VeilTestSupport

/// A scratch Veil installation driven through the real `veil` binary, as an operator runs it: a key
/// set made by `veil keys init` (which starts the data directory's audit log), a data directory, a
/// policy, and API tokens. The fault tests start its processes, load them, kill them and inspect what
/// is left (`CrashInvariants`).
struct VeilInstallation: Sendable {
    /// The folder every command runs in; holds `keys/`, the policy and the processes' output.
    let root: URL
    let dataDirectory: URL
    let environment: [String: String]

    var keysDirectory: URL { root.appendingPathComponent("keys") }
    var databaseFile: URL { dataDirectory.appendingPathComponent("veil.sqlite") }
    var auditLogFile: URL { dataDirectory.appendingPathComponent("audit.log") }

    /// The repository's `policies/default.yaml`.
    static let defaultPolicy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies/default.yaml")

    /// Creates keys and a data directory. `policy` is the YAML of the policy to run under (the keys
    /// it leaves out take their defaults), or nil for the shipped default policy. `dataDirectory`
    /// places the data directory elsewhere (a small tmpfs), by default `<root>/data`. `environment`
    /// adds to every command's environment (e.g. `VEIL_DATABASE_URL`).
    init(policy: String? = nil, dataDirectory: URL? = nil, environment extra: [String: String] = [:]) throws {
        root = try VeilProcess.scratchDirectory()
        self.dataDirectory = dataDirectory ?? root.appendingPathComponent("data")
        var policyPath = Self.defaultPolicy.path
        if let policy {
            policyPath = root.appendingPathComponent("policy.yaml").path
            try policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        }
        environment = [
            "VEIL_KEYS": root.appendingPathComponent("keys").path, "VEIL_DATA_DIR": self.dataDirectory.path,
            "VEIL_POLICY": policyPath, "LOG_LEVEL": "",
        ].merging(extra) { _, new in new }
        let keys = try VeilProcess.run(["keys", "init"], in: root, environment: environment)
        guard keys.status == 0 else { throw HarnessError("veil keys init failed: \(keys.stderr)") }
    }

    /// An installation unpacked from `archive`, a `.tar.gz` of `keys/` and `data/` (a fixture made
    /// by an earlier binary), under the shipped default policy.
    init(unpacking archive: URL) throws {
        let root = try VeilProcess.scratchDirectory()
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-xzf", archive.path, "-C", root.path]
        try tar.run()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0 else { throw HarnessError("cannot unpack \(archive.path)") }
        self.init(
            root: root, dataDirectory: root.appendingPathComponent("data"),
            environment: [
                "VEIL_KEYS": root.appendingPathComponent("keys").path, "VEIL_DATA_DIR": root.appendingPathComponent("data").path,
                "VEIL_POLICY": Self.defaultPolicy.path, "LOG_LEVEL": "",
            ])
    }

    private init(root: URL, dataDirectory: URL, environment: [String: String]) {
        self.root = root
        self.dataDirectory = dataDirectory
        self.environment = environment
    }

    /// A copy of this installation (keys, policy, data directory) in a new scratch folder, for one
    /// more kill from the same starting state. Nothing may be running on this one.
    func copy() throws -> VeilInstallation {
        guard dataDirectory.path.hasPrefix(root.path + "/") else {
            throw HarnessError("only an installation with its data directory under its root can be copied")
        }
        let copy = try VeilProcess.scratchDirectory()
        try FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: root, to: copy)
        var environment = environment
        for (name, value) in environment where value.hasPrefix(root.path) {
            environment[name] = copy.path + value.dropFirst(root.path.count)
        }
        return VeilInstallation(
            root: copy, dataDirectory: copy.appendingPathComponent(dataDirectory.lastPathComponent), environment: environment)
    }

    /// Runs `veil arguments...` to completion.
    func run(_ arguments: [String]) throws -> VeilProcess.Result {
        try VeilProcess.run(arguments, in: root, environment: environment)
    }

    /// Whether `modelID`'s card says it beats its baselines (`quality_gate.passes`, as `models show`
    /// gives it to the operator). Tests approve with an override note only where it does not: whether a
    /// small seeded model passes depends on the holdout, which a per-installation key draws.
    func passesQualityGate(_ modelID: String) throws -> Bool {
        let card = ((try json(["models", "show", modelID]) as? [String: Any])?["card"] as? [String: Any])
        guard let gate = card?["quality_gate"] as? [String: Any], let passes = gate["passes"] as? Bool else {
            throw HarnessError("model \(modelID) has no quality_gate.passes on its card")
        }
        return passes
    }

    /// Runs `veil arguments... --json`, requires exit status 0, and returns the printed JSON.
    func json(_ arguments: [String]) throws -> Any {
        let result = try run(arguments + ["--json"])
        guard result.status == 0 else {
            throw HarnessError("veil \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed])
    }

    /// An installation whose stores live in `cluster` (`VEIL_DATABASE_URL`), after `veil db migrate`.
    static func onPostgres(_ cluster: PostgresTestCluster, policy: String? = nil) throws -> VeilInstallation {
        let migrated = try VeilProcess.run(["db", "migrate", "--database-url", cluster.url])
        guard migrated.status == 0 else { throw HarnessError("veil db migrate failed: \(migrated.stderr)") }
        return try VeilInstallation(policy: policy, environment: ["VEIL_DATABASE_URL": cluster.url])
    }

    /// `veil tokens issue`: the token is alone on the last line.
    func token(_ role: String) throws -> String {
        let issued = try run(["tokens", "issue", "--role", role, "--name", "\(role)-\(UUID().uuidString.prefix(8))"])
        guard issued.status == 0 else { throw HarnessError("veil tokens issue failed: \(issued.stderr)") }
        return String(issued.stdout.split(separator: "\n").last ?? "")
    }

    /// `veil serve` on a free port; its stderr goes to `<root>/<log>`.
    func serve(log name: String) throws -> ServerProcess {
        try ServerProcess([], in: root, stderrFile: root.appendingPathComponent(name), environment: environment)
    }

    /// `veil arguments...` started in the background, to be killed part-way.
    func start(_ arguments: [String]) throws -> BackgroundCommand {
        try BackgroundCommand(arguments, in: root, environment: environment)
    }

    /// The number of rows of `table` in `veil.sqlite` (`events`, `vault`, …), read-only with SQLite
    /// itself; 0 when the database or the table does not exist.
    func rowCount(_ table: String) throws -> Int {
        try DataDirectoryReport.read(databaseFile) { db in
            try db.tableExists(table) ? Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 : 0
        } ?? 0
    }

    /// Writes `text` to `<root>/<name>` and returns its path.
    func file(_ name: String, _ text: Data) throws -> URL {
        let url = root.appendingPathComponent(name)
        try text.write(to: url)
        return url
    }
}

/// A failure of the test harness itself (a command that had to succeed did not).
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `veil` command running in the background with its output in files, killed with `kill9()`.
final class BackgroundCommand {
    let process: Subprocess.Child
    let stderrFile: URL

    init(_ arguments: [String], in directory: URL, environment: [String: String]) throws {
        stderrFile = directory.appendingPathComponent("stderr-\(UUID().uuidString.prefix(8)).txt")
        process = try VeilProcess.launch(arguments, in: directory, environment: environment, stderrFile: stderrFile)
    }

    deinit {
        if process.isRunning { kill9() }
    }

    /// `kill -9`, then waits for the process to be gone. Returns false when it had already exited.
    @discardableResult
    func kill9() -> Bool {
        let wasRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return wasRunning && process.endedBySignal
    }

    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }
}
