import Foundation
import VeilAudit
import VeilCore
import VeilCrypto
import VeilLedger
import VeilRuntime
import VeilStore

/// Audit-chain cost: every record is sealed and committed in a store transaction (synced), and
/// `audit.log` mirrors the chain after each commit.
/// - `audit.append_committed`: records appended one at a time in transactions of their own (refusals,
///   `query.run`), each committed before the next; the mirror catches up in the background.
/// - `audit.append_committed_two_processes`: two store sets on one data directory appending at once,
///   as `veil serve` and a CLI command would (SQLite's write lock orders them).
/// - `audit.mirror_catch_up`: records copied from the store into a fresh `audit.log`.
/// - `audit.verify`: chain + signatures + body checks of the records.
enum AuditBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "audit") {
            let deployment = try await BenchDeployment.make()
            let chain = deployment.context.stores.audit
            let details: [String: JSONValue] = [
                "dataset": "default", "mechanism": ["mechanism": "subsampled_gaussian", "noise_multiplier": 1.1, "sampling_rate": 0.01, "steps": 1000],
                "epsilon": 0.8, "delta": 1e-6, "cumulative_epsilon": 2.4,
            ]
            let appends = 2_000
            let appendSeconds = try await Stopwatch.seconds {
                for _ in 0..<appends { try await chain.record(actor: "bench", action: .budgetRefuse, details: details) }
            }
            let second = try await OpenedDataDirectory.open(
                directory: deployment.context.dataDirectory, keys: deployment.context.keys, clock: .system, actor: "bench")
            let contended = 1_000
            let contendedSeconds = try await Stopwatch.seconds {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in [chain, second.stores.audit] {
                        group.addTask {
                            for _ in 0..<(contended / 2) { try await writer.record(actor: "bench", action: .budgetRefuse, details: details) }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await second.close()
            await deployment.context.close()
            let mirror = deployment.root.appendingPathComponent("mirror.log").path
            let catchUp = AuditMirrorSync(
                mirror: try AuditMirror(path: mirror, publicKey: deployment.context.keys.auditSigningKey.publicKey), chain: chain,
                storeLocation: deployment.context.stores.location)
            let catchUpSeconds = try await Stopwatch.seconds { try await catchUp.catchUp() }
            let lines = AuditVerifier.lines(of: try AuditMirror.contents(path: mirror))
            var valid = false
            let verifySeconds = Stopwatch.bestSeconds(repetitions: 3) {
                valid = AuditVerifier.verify(lines: lines, publicKey: deployment.context.keys.auditSigningKey.publicKey, checkpoint: nil).isValid
            }
            deployment.remove()
            guard valid else { throw VeilError(.integrity, "the benchmark chain does not verify") }
            return [
                BenchResult(name: "audit.append_committed", value: Double(appends) / appendSeconds, unit: "records/s"),
                BenchResult(name: "audit.append_committed_two_processes", value: Double(contended) / contendedSeconds, unit: "records/s"),
                BenchResult(name: "audit.mirror_catch_up", value: Double(lines.count) / catchUpSeconds, unit: "records/s"),
                BenchResult(name: "audit.verify", value: Double(lines.count) / verifySeconds, unit: "records/s"),
            ]
        }
    ]
}
