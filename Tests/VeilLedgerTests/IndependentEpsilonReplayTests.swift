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

    /// A scratch directory with an audit key, its public key file and stores sealing with the key.
    private struct Scratch {
        let directory = ScratchStores.directory()
        let key = SigningKey.generate()
        let stores: StoreSet
        var publicKey: String { directory + "/audit.pub" }

        init() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            stores = try ScratchStores.open(in: directory + "/data", signingKey: key)
            try (Data(key.publicKey.bytes).base64EncodedString() + "\n").write(toFile: publicKey, atomically: true, encoding: .utf8)
        }

        /// Writes the chain of `stores` as a log file named `name`; returns its path.
        func writeLog(of stores: StoreSet, name: String) async throws -> String {
            let path = directory + "/" + name
            try (try await stores.chainLines()).map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// The operator's forgery: the chain's records with each one's details through `edit` (nil
        /// drops the record), chained and signed anew with the audit key, so every hash and signature
        /// verifies; returns the log's path.
        func forge(_ edit: (AuditBody) -> [String: JSONValue]?) async throws -> String {
            let forged = try ScratchStores.open(in: directory + "/forged", signingKey: key)
            for body in try await stores.chainBodies() {
                guard let details = edit(body) else { continue }
                _ = try await forged.audit.record(actor: body.actor, action: try #require(AuditAction(rawValue: body.action)), details: details)
            }
            return try await writeLog(of: forged, name: "forged.log")
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func aLogReSignedWithoutOneSpendFailsThePythonChecker() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let ledger = BudgetService(policy: Policy(), store: scratch.stores.ledger, audit: scratch.stores.audit)
        let mechanisms: [PrivacyMechanism] = [
            .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000),
            .pureEpsilon(epsilon: 0.2),
            .gaussian(noiseMultiplier: 4, count: 3),
            .thresholded(base: .laplace(epsilon: 0.1, count: 2), delta: 1e-9),
            // A training run with its private evaluation, charged as one spend.
            .composition(parts: [
                .subsampledGaussian(samplingRate: 0.02, noiseMultiplier: 1.3, steps: 200),
                .discreteGaussian(sigma: 30, sensitivity: 1, count: 1),
            ]),
        ]
        for (index, mechanism) in mechanisms.enumerated() {
            try await ledger.reserve(BudgetRequest(principal: "p\(index)", role: .analyst, purpose: "spend \(index)", mechanism: mechanism))
        }
        let good = try runPython([Self.script, try await scratch.writeLog(of: scratch.stores, name: "audit.log"), scratch.publicKey])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("cumulative epsilon of 5 spend record(s) replayed with dp_accounting"))

        // Without the second spend.
        var dropped = 0
        let forged = try await scratch.forge { body in
            guard body.action == AuditAction.budgetSpend.rawValue, body.details["purpose"] == .string("spend 1") else { return body.details }
            dropped += 1
            return nil
        }
        #expect(dropped == 1)
        let caught = try runPython([Self.script, forged, scratch.publicKey])
        #expect(caught.status == 1, "\(caught.output)")
        #expect(caught.output.contains("FAILED: line 2 (seq 2): cumulative_epsilon is"), "\(caught.output)")
        #expect(caught.output.contains("but the spends so far compose to"))
    }

    /// One chain with spends charged by each accountant: a record from before spends named their
    /// accountant (RDP), spends under an RDP policy, then under a PLD policy over the same ledger. The
    /// Python checker replays each record with the accountant it names and accepts the chain; the same
    /// chain with a PLD record's cumulative ε understated by 1% (re-signed) fails at that record.
    @Test func thePythonCheckerReplaysEachRecordWithTheAccountantItNames() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let stores = scratch.stores
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let legacy = RDPAccountant.epsilon(composing: [training], delta: 1e-6).epsilon
        try await stores.audit.record(
            actor: "cli", action: .budgetSpend,
            details: [
                "dataset": .string("legacy"), "principal": .string("cli"), "role": .string("trainer"), "purpose": .string("train"),
                "mechanism": BudgetService.json(training), "epsilon": .double(legacy), "delta": .double(1e-6),
                "cumulative_epsilon": .double(legacy),
            ])
        var policy = Policy()
        let spends: [(AccountantKind, PrivacyMechanism)] = [
            (.rdp, training), (.rdp, .pureEpsilon(epsilon: 0.2)), (.pld, training), (.pld, .laplace(epsilon: 0.1, count: 2)),
        ]
        for (accountant, mechanism) in spends {
            policy.privacy.accountant = accountant
            try await BudgetService(policy: policy, store: stores.ledger, audit: stores.audit).reserve(
                BudgetRequest(principal: "cli", role: .analyst, purpose: "spend", mechanism: mechanism))
        }
        let good = try runPython([Self.script, try await scratch.writeLog(of: stores, name: "audit.log"), scratch.publicKey])
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output.contains("cumulative epsilon of 5 spend record(s) replayed with dp_accounting"), "\(good.output)")

        // The PLD record at seq 4 understated by 1%.
        let forged = try await scratch.forge { body in
            var details = body.details
            if body.seq == 4, case .double(let claimed)? = details["cumulative_epsilon"] {
                details["cumulative_epsilon"] = .double(claimed * 0.99)
            }
            return details
        }
        let caught = try runPython([Self.script, forged, scratch.publicKey])
        #expect(caught.status == 1, "\(caught.output)")
        #expect(caught.output.contains("(seq 4): cumulative_epsilon is"), "\(caught.output)")
    }

}
