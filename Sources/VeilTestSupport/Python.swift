import Foundation

/// TEST SUPPORT. Runs `python3 arguments…` — the independent checkers (PyNaCl, dp-accounting) the
/// tests compare Veil against — and returns its exit status and everything it printed (stdout and
/// stderr together). `environment` adds to the inherited environment (secrets such as API tokens go
/// there, never in `arguments`, which other processes can read).
public func runPython(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let outcome = try Subprocess.run("/usr/bin/env", ["python3"] + arguments, environment: environment, mergingErrors: true)
    return (outcome.status, outcome.output)
}
