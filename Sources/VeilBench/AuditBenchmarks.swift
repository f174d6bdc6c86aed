import Foundation
import VeilAudit
import VeilCore
import VeilCrypto

/// Audit-log cost (issue: privacy-core): every state change waits for one synced append.
enum AuditBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "audit") {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-bench-audit-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let key = SigningKey.generate()
            let log = try AuditLog(dataDirectory: directory.path, signingKey: key)
            let details: [String: JSONValue] = [
                "dataset": "default", "mechanism": ["mechanism": "subsampled_gaussian", "noise_multiplier": 1.1, "sampling_rate": 0.01, "steps": 1000],
                "epsilon": 0.8, "delta": 1e-6, "cumulative_epsilon": 2.4,
            ]
            let appends = 2_000
            let appendSeconds = try Stopwatch.seconds {
                for _ in 0..<appends { try log.record(actor: "bench", action: AuditAction.budgetSpend, details: details) }
            }
            // Two writers at once, as a server and the CLI would be (separate descriptors, so flock applies).
            let second = try AuditLog(dataDirectory: directory.path, signingKey: key)
            let contended = 1_000
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in [log, second] {
                    group.addTask {
                        for _ in 0..<(contended / 2) {
                            try writer.record(actor: "bench", action: AuditAction.budgetSpend, details: details)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let contendedSeconds = Double((ContinuousClock.now - start) / .milliseconds(1)) / 1000
            let lines = AuditVerifier.lines(of: try AuditLog.contents(path: log.path))
            var valid = false
            let verifySeconds = Stopwatch.bestSeconds(repetitions: 3) {
                valid = AuditVerifier.verify(lines: lines, publicKey: key.publicKey, checkpoint: nil).isValid
            }
            guard valid else { throw VeilError(.integrity, "the benchmark log does not verify") }
            return [
                BenchResult(name: "audit.append_synced", value: Double(appends) / appendSeconds, unit: "records/s"),
                BenchResult(name: "audit.append_synced_two_writers", value: Double(contended) / contendedSeconds, unit: "records/s"),
                BenchResult(name: "audit.verify", value: Double(lines.count) / verifySeconds, unit: "records/s"),
            ]
        }
    ]
}
