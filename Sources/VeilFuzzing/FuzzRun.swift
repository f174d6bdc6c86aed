import Foundation

/// How much each harness tries in one run.
public struct FuzzBudget: Sendable, Codable {
    /// Events through `IngestService`, in batches of `batchSize`.
    public var events: Int
    public var batchSize: Int
    /// CSV rows through `EventImporter`, in files of `rowsPerFile`.
    public var csvRows: Int
    public var rowsPerFile: Int
    public var policies: Int
    public var auditLines: Int
    public var keyFiles: Int
    public var requestBodies: Int

    public init(
        events: Int, batchSize: Int = 500, csvRows: Int, rowsPerFile: Int = 200, policies: Int, auditLines: Int,
        keyFiles: Int, requestBodies: Int
    ) {
        self.events = events
        self.batchSize = batchSize
        self.csvRows = csvRows
        self.rowsPerFile = rowsPerFile
        self.policies = policies
        self.auditLines = auditLines
        self.keyFiles = keyFiles
        self.requestBodies = requestBodies
    }

    /// Seconds, for `make test`.
    public static let smoke = FuzzBudget(
        events: 6_000, batchSize: 200, csvRows: 2_000, rowsPerFile: 100, policies: 150, auditLines: 300, keyFiles: 200,
        requestBodies: 600)
}

/// Runs every harness with one seed and sums what they did.
public enum FuzzRun {
    public struct Summary: Sendable, Codable {
        public var seed: UInt64
        public var harnesses: [HarnessReport]
        public var events: Int { harnesses.reduce(0) { $0 + $1.events } }
        public var inputs: Int { harnesses.reduce(0) { $0 + $1.inputs } }
        public var partialBatches: Int { harnesses.reduce(0) { $0 + $1.partialBatches } }
        public var violations: [String] { harnesses.flatMap { report in report.violations.map { "\(report.harness): \($0)" } } }
    }

    /// Runs the harnesses in order, handing each report to `progress` as it finishes.
    public static func run(
        seed: UInt64, budget: FuzzBudget, policyText: String, progress: (HarnessReport) -> Void = { _ in }
    ) async throws -> Summary {
        let harnesses = try FuzzHarnesses(seed: seed)
        defer { harnesses.removeScratch() }
        var reports: [HarnessReport] = []
        func finish(_ report: HarnessReport) {
            progress(report)
            reports.append(report)
        }
        finish(try await harnesses.events(batches: max(1, budget.events / budget.batchSize), size: budget.batchSize))
        finish(try await harnesses.csv(files: max(1, budget.csvRows / budget.rowsPerFile), rows: budget.rowsPerFile))
        finish(try harnesses.policies(budget.policies, policy: policyText))
        finish(try await harnesses.auditLines(budget.auditLines))
        finish(try harnesses.keyFiles(budget.keyFiles))
        finish(try harnesses.requestBodies(budget.requestBodies))
        return Summary(seed: seed, harnesses: reports)
    }
}
