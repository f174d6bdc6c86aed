import Foundation
import Testing
import VeilTestSupport

/// `Subprocess` passes on no descriptor of the test process and waits for its child only — the two
/// rules whose absence hung the in-process tests on CI (stop 31): the shared PostgreSQL server, started
/// while a Python checker ran, held that checker's exit socket, so its exit was never seen.
struct SubprocessTests {
    /// The descriptors process `pid` holds open, by number.
    static func descriptors(of pid: Int32) throws -> Set<Int> {
        Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) })
    }

    /// What each descriptor of process `pid` points at (`/proc/PID/fd/N`), for messages.
    static func describeDescriptors(of pid: Int32) -> String {
        let numbers = (try? descriptors(of: pid).sorted()) ?? []
        return numbers.map { "\($0) → \((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "?")" }
            .joined(separator: ", ")
    }

    /// Waits, up to 10 s, until process `pid` runs `command` (`/proc/PID/comm`): until a shell's child
    /// has made its redirections and exec'd, it holds the shell's working descriptors (dash opens
    /// `/dev/null` on 3 before moving it to 0), which are not what the program keeps.
    static func waitUntilRunning(_ pid: Int32, command: String) -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if comm == command { return true }
            usleep(10_000)
        }
        return false
    }

    /// Whether process `pid` runs: it exists and has not exited (a zombie has, though `kill(pid, 0)`
    /// still finds it until it is reaped).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ", options: .backwards)
        else { return false }
        return !["Z", "X"].contains(stat[afterName.upperBound...].prefix(1))
    }

    /// A daemon left behind by the program (as `pg_ctl start` leaves the server) holds its standard
    /// descriptors and nothing of the test process: not a pipe this test opened, nor anything else.
    @Test func aDaemonTheProgramLeavesHoldsNoDescriptorOfTheTestProcess() throws {
        let pipe = Pipe()  // open in this process while the program runs, as a running checker's pipe is
        defer { try? pipe.fileHandleForWriting.close() }
        let started = try Subprocess.run("/bin/sh", ["-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $!"])
        let daemon = try #require(Int32(started.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(daemon, SIGKILL) }
        #expect(Self.waitUntilRunning(daemon, command: "sleep"), "the daemon never ran sleep")
        #expect(try Self.descriptors(of: daemon) == [0, 1, 2], "\(Self.describeDescriptors(of: daemon))")
    }

    /// `runPython` returns when Python has exited, though a process Python started still holds its
    /// output: nothing waits for the end of a pipe that a longer-lived process could keep open.
    @Test func runPythonReturnsWhileAProcessItStartedStillRuns() throws {
        let script = """
            import subprocess, sys
            child = subprocess.Popen(["sleep", "60"], stdout=sys.stdout, stderr=sys.stderr)
            print(child.pid)
            """
        let result = try runPython(["-c", script])
        #expect(result.status == 0, "\(result.output)")
        let child = try #require(Int32(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(child, SIGKILL) }
        #expect(Self.isRunning(child), "runPython waited for the process Python left running")
    }

    /// Standard input, the added environment, the exit status and the two outputs each reach their place.
    @Test func inputEnvironmentStatusAndOutputsArePassed() throws {
        let outcome = try Subprocess.run(
            "/bin/sh", ["-c", "read line; echo \"$line $VEIL_SUBPROCESS_PROBE\"; echo warning >&2; exit 3"],
            environment: ["VEIL_SUBPROCESS_PROBE": "seen"], input: Data("given\n".utf8))
        #expect(outcome.status == 3)
        #expect(outcome.output == "given seen\n")
        #expect(outcome.errors == "warning\n")
        let merged = try Subprocess.run("/bin/sh", ["-c", "echo out; echo err >&2"], mergingErrors: true)
        #expect(merged.output == "out\nerr\n" && merged.errors.isEmpty)
    }

    /// A started child runs in its directory, reports its exit status once, and tells an exit from a
    /// signal, whichever thread asks.
    @Test func aStartedChildRunsInItsDirectoryAndReportsHowItEnded() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("veil-subprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let listing = folder.appendingPathComponent("where.txt").path
        let exited = try Subprocess.start("/bin/sh", ["-c", "pwd; exit 7"], directory: folder.path, output: .file(listing))
        exited.waitUntilExit()
        #expect(!exited.isRunning && exited.terminationStatus == 7 && !exited.endedBySignal)
        #expect(try String(contentsOfFile: listing, encoding: .utf8) == folder.resolvingSymlinksInPath().path + "\n")

        let sleeper = try Subprocess.start("/bin/sleep", ["60"])
        #expect(sleeper.isRunning)
        kill(sleeper.processIdentifier, SIGKILL)
        let waiters = DispatchGroup()
        for _ in 0..<3 { DispatchQueue.global().async(group: waiters) { sleeper.waitUntilExit() } }
        waiters.wait()
        #expect(!sleeper.isRunning && sleeper.endedBySignal && sleeper.terminationStatus == SIGKILL)
    }
}
