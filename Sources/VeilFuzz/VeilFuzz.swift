import ArgumentParser
import Foundation
import VeilFuzzing

/// The long fuzz run (`make fuzz`): every harness of `VeilFuzzing` with a fixed seed, one JSON
/// object per harness on stdout, then the totals; exits 1 if any invariant broke.
@main
struct VeilFuzz: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "VeilFuzz",
        abstract: "Fuzz every parser and decoder Veil owns with structured mutations of valid inputs.",
        discussion: """
            Harnesses: events (NDJSON and JSON arrays through the ingest pipeline into SQLite), CSV files \
            (veil ingest's importer), policy YAML, audit lines (the verifier), key files, request bodies \
            (the gateway's strict decoder). Invariants: a rejected batch or file stores nothing, an \
            accepted one stores what it reports, clean events round-trip, no error contains a user ID, \
            a verified log is the signed one, a key file is accepted only when it holds a key.

            Examples:
              swift run -c release VeilFuzz --events 1000000
              swift run -c release VeilFuzz --seed 7 --events 20000 --csv-rows 20000
            """)

    @Option(help: "Seed of every generator (the same seed tries the same inputs).")
    var seed: UInt64 = 1

    @Option(help: "Events sent through the ingest pipeline.")
    var events = 1_000_000

    @Option(help: "Events per batch.")
    var batchSize = 1_000

    @Option(help: "CSV rows imported (in files of --rows-per-file).")
    var csvRows = 200_000

    @Option(help: "Rows per CSV file.")
    var rowsPerFile = 1_000

    @Option(help: "Policy documents parsed.")
    var policies = 5_000

    @Option(help: "Audit logs verified (one damaged line each).")
    var auditLines = 5_000

    @Option(help: "Key files loaded.")
    var keyFiles = 5_000

    @Option(help: "Request bodies decoded.")
    var requestBodies = 50_000

    @Option(help: "The policy whose text the YAML harness mutates.")
    var policy = "policies/default.yaml"

    func run() async throws {
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        let budget = FuzzBudget(
            events: events, batchSize: batchSize, csvRows: csvRows, rowsPerFile: rowsPerFile, policies: policies,
            auditLines: auditLines, keyFiles: keyFiles, requestBodies: requestBodies)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let summary = try await FuzzRun.run(seed: seed, budget: budget, policyText: text) { report in
            if let line = try? encoder.encode(report) { print(String(decoding: line, as: UTF8.self)) }
        }
        let total: [String: Int] = [
            "events": summary.events, "inputs": summary.inputs, "partial_batches": summary.partialBatches,
            "violations": summary.violations.count, "crashes": 0,
        ]
        print(String(decoding: try encoder.encode(["total": total]), as: UTF8.self))
        if !summary.violations.isEmpty || summary.partialBatches > 0 { throw ExitCode.failure }
    }
}
