import Foundation
import Synchronization

/// TEST SUPPORT. Runs a program to its end — a checker in Python, `pg-cluster.sh`, `psql` — and
/// returns its exit status and what it printed (`run`), or starts one in the background — a `veil
/// serve`, a command a test kills — and hands back the running child (`start`). The test helpers that
/// start processes go through here; Foundation's `Process` is not used in the in-process tests, nor for
/// the CLI tests' long-lived children.
///
/// Contract:
/// - The child gets standard input, output and error as asked and **no other descriptor** of the test
///   process (the spawn closes every descriptor from 3 on). A program may leave a daemon behind (`pg_ctl
///   start` leaves the PostgreSQL server, which lives until the test process ends); that daemon then
///   holds none of this process's pipes and sockets. Before this rule the shared test cluster's server
///   inherited whatever was open when it started, among them the socket through which Foundation's
///   `Process` learns that a concurrently running child (a Python checker) has exited — and that
///   child's `waitUntilExit` then waited for ever: the hung CI run of stop 31.
/// - Output goes to temporary files, not pipes, for the same reason: a daemon the program starts
///   could hold a pipe's write end open, and a reader waiting for its end would wait with it.
/// - Standard input is `input`, or /dev/null.
/// - The exit is awaited with `waitid` / `waitpid` on the calling thread, for this child only.
public enum Subprocess {
    /// Where a started program's standard output or error goes.
    public enum Sink: Sendable {
        case discard
        /// The file at this path, created or truncated.
        case file(String)
        /// Where standard output goes (for standard error only).
        case standardOutput
    }

    /// A program started by `start`, running or ended. Safe to use from several threads.
    public final class Child: Sendable {
        public let processIdentifier: pid_t
        /// The raw wait status once the child has been reaped.
        private let waitStatus = Mutex<Int32?>(nil)

        init(processIdentifier: pid_t) { self.processIdentifier = processIdentifier }

        /// Whether it still runs (reaps it, without blocking, when it has exited).
        public var isRunning: Bool { reapIfExited() == nil }

        /// Sends SIGTERM.
        public func terminate() { kill(processIdentifier, SIGTERM) }

        /// Returns once it has exited (and is reaped).
        public func waitUntilExit() {
            while reapIfExited() == nil {
                // Blocks until it has exited, leaving it to be reaped under the lock.
                var info = siginfo_t()
                _ = waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT)
            }
        }

        /// Its exit status, or the number of the signal that ended it (`endedBySignal`). After
        /// `waitUntilExit` only.
        public var terminationStatus: Int32 {
            let status = exitedStatus
            return endedBySignal ? status & 0x7F : (status >> 8) & 0xFF
        }

        /// Whether a signal ended it. After `waitUntilExit` only.
        public var endedBySignal: Bool { exitedStatus & 0x7F != 0 }

        private var exitedStatus: Int32 {
            guard let status = reapIfExited() else { preconditionFailure("the child \(processIdentifier) still runs") }
            return status
        }

        /// The raw wait status if it has exited, reaping it the first time; nil while it runs. A child
        /// that something else reaped (a `waitpid(-1)` elsewhere in the process) stops the test process
        /// with that said, rather than leaving `waitUntilExit` to spin for ever.
        private func reapIfExited() -> Int32? {
            waitStatus.withLock { known in
                if let known { return known }
                var status: Int32 = 0
                var reaped: pid_t
                repeat { reaped = waitpid(processIdentifier, &status, WNOHANG) } while reaped == -1 && errno == EINTR
                if reaped == -1 && errno == ECHILD {
                    preconditionFailure("the child \(processIdentifier) was reaped outside Subprocess; its exit status is lost")
                }
                guard reaped == processIdentifier else { return nil }
                known = status
                return status
            }
        }
    }

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

        let child = try start(
            program, arguments, environment: environment, input: input == nil ? nil : inputPath, output: .file(outputPath),
            errors: mergingErrors ? .standardOutput : .file(errorsPath))
        child.waitUntilExit()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let errors = mergingErrors ? "" : (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
        return Outcome(status: child.endedBySignal ? 128 + child.terminationStatus : child.terminationStatus, output: output, errors: errors)
    }

    /// Starts `program` (a path) with `arguments` in `directory` (this process's when nil), with
    /// `environment` added to this process's, standard input from the file `input` (/dev/null when
    /// nil), standard output and error to `output` and `errors`; returns at once. See the type's contract.
    public static func start(
        _ program: String, _ arguments: [String], directory: String? = nil, environment: [String: String] = [:],
        input: String? = nil, output: Sink = .discard, errors: Sink = .discard
    ) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input ?? "/dev/null", O_RDONLY, 0)
        for (descriptor, sink) in [(Int32(1), output), (2, errors)] {
            switch sink {
            case .discard: posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            case .standardOutput: posix_spawn_file_actions_adddup2(&actions, 1, descriptor)
            }
        }
        if let directory {
            guard try glibcFileAction("posix_spawn_file_actions_addchdir_np", ChangeDirectory.self)(&actions, directory) == 0 else {
                throw SpawnError(description: "cannot prepare the spawn of \(program) in \(directory)")
            }
        }
        guard try glibcFileAction("posix_spawn_file_actions_addclosefrom_np", CloseFrom.self)(&actions, 3) == 0 else {
            throw SpawnError(description: "cannot prepare the spawn of \(program)")
        }

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
        return Child(processIdentifier: pid)
    }

    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    /// A glibc spawn file action that Swift's Glibc module does not declare, looked up by name:
    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34 and later; Debian 12 has 2.36), with which
    /// the child closes every descriptor from the one given on, and `posix_spawn_file_actions_addchdir_np`
    /// (2.29 and later), with which it changes directory.
    private static func glibcFileAction<Function>(_ name: String, _ type: Function.Type) throws -> Function {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
            throw SpawnError(description: "this C library lacks \(name) (glibc 2.34 or later is needed)")
        }
        return unsafeBitCast(symbol, to: type)
    }
}
