import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

/// `scripts/verify_audit.py` — the auditor's independent checker (PyNaCl + dp_accounting) — replays the
/// cumulative ε of every `budget.spend` record. Before it did, a log re-signed without one spend
/// passed it: the chain and every signature were valid.
@Suite struct IndependentEpsilonReplayTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/verify_audit.py").path

    @Test func aLogReSignedWithoutOneSpendFailsThePythonChecker() async throws {
        let directory = ScratchStores.directory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = SigningKey.generate()
        let stores = try ScratchStores.open(in: directory + "/data", signingKey: key)
        let ledger = BudgetService(policy: Policy(), store: stores.ledger, audit: stores.audit)
        let mechanisms: [PrivacyMechanism] = [
            .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000),
            .pureEpsilon(epsilon: 0.2),
            .gaussian(noiseMultiplier: 4, count: 3),
            .thresholded(base: .laplace(epsilon: 0.1, count: 2), delta: 1e-9),
        ]
        for (index, mechanism) in mechanisms.enumerated() {
            try await ledger.reserve(BudgetRequest(principal: "p\(index)", role: .analyst, purpose: "spend \(index)", mechanism: mechanism))
        }
        let publicKey = directory + "/audit.pub"
        try (Data(key.publicKey.bytes).base64EncodedString() + "\n").write(toFile: publicKey, atomically: true, encoding: .utf8)
        let logPath = directory + "/audit.log"
        let lines = try await stores.chainLines()
        try lines.map { $0 + "\n" }.joined().write(toFile: logPath, atomically: true, encoding: .utf8)

        let good = try python([Self.script, logPath, publicKey])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("cumulative epsilon of 4 spend record(s) replayed with dp_accounting"))

        // The operator's forgery: the same records without the second spend, chained and signed anew
        // with the audit key, so every hash and signature verifies.
        let forgedStores = try ScratchStores.open(in: directory + "/forged", signingKey: key)
        var dropped = 0
        for body in try await stores.chainBodies() {
            if body.action == AuditAction.budgetSpend.rawValue, body.details["purpose"] == .string("spend 1") {
                dropped += 1
                continue
            }
            _ = try await forgedStores.audit.record(actor: body.actor, action: try #require(AuditAction(rawValue: body.action)), details: body.details)
        }
        #expect(dropped == 1)
        let forgedPath = directory + "/forged.log"
        try (try await forgedStores.chainLines()).map { $0 + "\n" }.joined().write(toFile: forgedPath, atomically: true, encoding: .utf8)
        let caught = try python([Self.script, forgedPath, publicKey])
        #expect(caught.status == 1, "\(caught.output)")
        #expect(caught.output.contains("FAILED: line 2 (seq 2): cumulative_epsilon is"), "\(caught.output)")
        #expect(caught.output.contains("but the spends so far compose to"))
    }

    private func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
