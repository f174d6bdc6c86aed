import Foundation

/// TEST SUPPORT. Runs `python3 arguments…` — the independent checkers (PyNaCl, dp-accounting) the
/// tests compare Veil against — and returns its exit status and everything it printed (stdout and
/// stderr together). `environment` adds to the inherited environment (secrets such as API tokens go
/// there, never in `arguments`, which other processes can read).
public func runPython(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
