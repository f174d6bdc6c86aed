import Foundation
import VeilTestSupport

/// Runs the built `veil` executable, as an operator would, and captures what it prints.
struct VeilProcess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The `veil` binary next to the test bundle (both live in the build products folder).
    static let executable: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Bundle.main.bundleURL.deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("veil") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[0]
    }()

    /// Starts `veil arguments...` in `directory` with `environment` added, in the background: stdin
    /// empty, stdout discarded, stderr to `stderrFile` (created empty), so it can be read after the
    /// process is gone — including after `kill -9`. Through `Subprocess`, not Foundation's `Process`:
    /// the child holds no descriptor of this process, so a server that lives through a test cannot hold
    /// another test's pipe or exit socket open (`Subprocess`'s contract).
    static func launch(_ arguments: [String], in directory: URL, environment: [String: String], stderrFile: URL) throws -> Subprocess.Child {
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        return try Subprocess.start(
            executable.path, arguments, directory: directory.path, environment: environment, errors: .file(stderrFile.path))
    }

    /// Runs `veil arguments...` in `directory` with `environment` added; its stdin holds `stdin` (empty when nil).
    static func run(
        _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], stdin: Data? = nil
    ) throws -> Result {
        try runProgram(executable.path, arguments, in: directory, environment: environment, stdin: stdin)
    }

    /// Runs the program at `path` (another tool a test needs, e.g. `pg_dump`) as `run` runs `veil`.
    /// `stdin` is written to the program's standard input (then closed); nil gives it /dev/null.
    static func runProgram(
        _ path: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], stdin: Data? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let input = stdin.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
        if let writer = input?.fileHandleForWriting, let stdin {
            // From a thread of its own, so a program that writes before it reads cannot block us both.
            Thread.detachNewThread {
                writer.write(stdin)
                try? writer.close()
            }
        }
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    /// A fresh empty temporary directory.
    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("veil-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
