import Foundation
import Testing
import VeilFuzzing

/// The bounded fuzz run of `make test` (seconds): every harness, fixed seed, every invariant. The long
/// run is `make fuzz`.
@Suite struct FuzzSmokeTests {
    static let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("policies/default.yaml")

    @Test func everyHarnessHoldsItsInvariants() async throws {
        let text = try String(contentsOf: Self.policy, encoding: .utf8)
        let summary = try await FuzzRun.run(seed: 11, budget: .smoke, policyText: text) { report in
            print("fuzz \(report.harness): \(report.inputs) inputs, \(report.events) events, \(report.accepted) accepted, \(report.rejected) rejected, \(report.partialBatches) partial, mutations \(report.mutations.sorted { $0.key < $1.key })")
        }
        #expect(summary.violations.isEmpty, "\(summary.violations)")
        #expect(summary.partialBatches == 0)
        #expect(summary.harnesses.map(\.harness) == ["events", "csv", "policy_yaml", "audit_lines", "key_files", "request_bodies"])
        // Each harness refused damaged inputs, and (but for the audit log, where almost any change to a
        // signed line must fail) accepted intact ones.
        for report in summary.harnesses {
            #expect(report.rejected > 0, "\(report.harness) refused nothing")
            #expect(report.harness == "audit_lines" || report.accepted > 0, "\(report.harness) accepted nothing")
        }
        #expect(summary.events >= 8_000)
    }
}
