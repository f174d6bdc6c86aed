import Foundation

/// TEST SUPPORT. Runs a program to its end — a checker in Python, `pg-cluster.sh`, `psql` — and
/// returns its exit status and what it printed. Every test helper that starts a process goes through
/// here; Foundation's `Process` is not used in the in-process tests.
///
/// Contract:
/// - The child inherits standard input, output and error and **no other descriptor** of the test
///   process (the spawn closes every descriptor from 3 on). A program may leave a daemon behind (`pg_ctl
///   start` leaves the PostgreSQL server, which lives until the test process ends); that daemon then
///   holds none of this process's pipes and sockets. Before this rule the shared test cluster's server
///   inherited whatever was open when it started, among them the socket through which Foundation's
///   `Process` learns that a concurrently running child (a Python checker) has exited — and that
///   child's `waitUntilExit` then waited for ever: the hung CI run of stop 31.
/// - Output goes to temporary files, not pipes, for the same reason: a daemon the program starts
///   could hold a pipe's write end open, and a reader waiting for its end would wait with it.
/// - Standard input is `input`, or /dev/null.
/// - The exit is awaited with `waitpid` on the calling thread, for this child only.
public enum Subprocess {
    public struct Outcome: Sendable {
        /// The exit status, or 128 + the signal that ended the program.
        public let status: Int32
        /// Standard output (with standard error too when run with `mergingErrors`).
        public let output: String
        /// Standard error; empty when run with `mergingErrors`.
        public let errors: String
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `program` (a path) with `arguments` and `environment` added to this process's environment,
    /// `input` on its standard input, and returns when it has exited; see the type's contract.
    /// `mergingErrors`: standard error goes where standard output goes.
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil, mergingErrors: Bool = false
    ) throws -> Outcome {
        let base = NSTemporaryDirectory() + "veil-subprocess-\(UUID().uuidString)"
        let inputPath = base + ".in", outputPath = base + ".out", errorsPath = base + ".err"
        defer {
            for path in [inputPath, outputPath, errorsPath] { try? FileManager.default.removeItem(atPath: path) }
        }
        if let input {
            guard FileManager.default.createFile(atPath: inputPath, contents: input, attributes: [.posixPermissions: 0o600]) else {
                throw SpawnError(description: "cannot write the input of \(program) to \(inputPath)")
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input == nil ? "/dev/null" : inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if mergingErrors {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, errorsPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        guard try closeFrom(&actions, 3) == 0 else { throw SpawnError(description: "cannot prepare the spawn of \(program)") }

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let variables = environment.isEmpty
            ? nil
            : ProcessInfo.processInfo.environment.merging(environment) { _, added in added }.map { strdup("\($0)=\($1)") } + [nil]
        defer { variables?.forEach { free($0) } }

        var pid: pid_t = 0
        let spawned: Int32
        if let variables {
            spawned = posix_spawn(&pid, program, &actions, nil, argv, variables)
        } else {
            spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
        }
        guard spawned == 0 else { throw SpawnError(description: "cannot run \(program) (errno \(spawned))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errors = mergingErrors ? "" : (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
        return Outcome(status: exitStatus, output: output, errors: errors)
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Debian 12 has 2.36): the
    /// spawned child closes every descriptor from `lowest` on. Swift's Glibc module does not declare it,
    /// so it is looked up by name.
    private static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) throws -> Int32 {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            throw SpawnError(description: "this C library lacks posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later is needed)")
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    }
}
