import Foundation
import GRDB
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilRuntime
import VeilStore
@testable import VeilLedger
@testable import VeilStoreSQLite

/// A data directory made before the chain lived in the store — the database without `audit_chain`,
/// `audit.log` the only record — is migrated once at its first open (crash-contract.md §3): the log is
/// verified and copied into the store, and every `budget.spend` record without a ledger row gets one.
/// The directory here is written in the old format: the old migrations only, old ledger rows, and the
/// log an old `veil` wrote, with the defect of issue 11 item 2 (a spend recorded whose ledger
/// transaction never committed).
@Suite struct LegacyImportTests {
    /// The spends the old log records; the ledger has rows for the first `rows` of them.
    static let mechanisms: [PrivacyMechanism] = [
        .pureEpsilon(epsilon: 0.5), .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 500), .pureEpsilon(epsilon: 0.25),
    ]

    /// Writes the old data directory; returns its log's lines.
    static func writeOldDataDirectory(_ deployment: Deployment, ledgerRows rows: Int) throws -> [String] {
        let ring = try KeyRing.load(directory: deployment.keys)
        let delta = Deployment.policy().policy.budget.delta
        try FileManager.default.createDirectory(atPath: deployment.data, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: deployment.database)
        try VeilDatabase.migrator(madeBeforeTheChain: false).migrate(queue, upTo: "tokens-v1")

        let signer = AuditSigner(signingKey: ring.auditSigningKey, clock: .fixed(Date(timeIntervalSince1970: 1_795_435_200)))
        var head = AuditHead.empty
        var lines: [String] = []
        func record(_ action: AuditAction, _ details: [String: JSONValue]) throws {
            let sealed = try signer.seal(AuditDraft(actor: "cli", action: action, details: details), after: head)
            lines.append(sealed.line)
            head = sealed.head
        }
        try record(.keyInit, ["epoch": 1, "audit_public_key": .string(Data(ring.auditSigningKey.publicKey.bytes).base64EncodedString())])
        try record(.policyLoad, ["policy_hash": .string(String(repeating: "b", count: 64)), "dataset": "default"])
        for (index, mechanism) in mechanisms.enumerated() {
            let epsilon = RDPAccountant.epsilon(composing: [mechanism], delta: delta).epsilon
            let cumulative = RDPAccountant.epsilon(composing: Array(mechanisms[...index]), delta: delta).epsilon
            try record(
                .budgetSpend,
                [
                    "dataset": "default", "principal": "analyst-1", "role": "analyst", "purpose": .string("query \(index)"),
                    "mechanism": BudgetService.json(mechanism), "epsilon": .double(epsilon), "delta": .double(delta),
                    "cumulative_epsilon": .double(cumulative),
                ])
            guard index < rows else { continue }
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO budget_spends (dataset, principal, role, purpose, mechanism, epsilon, delta, cumulative_epsilon, created_ms)
                        VALUES ('default', 'analyst-1', 'analyst', ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: ["query \(index)", try BudgetService.encode(mechanism), epsilon, delta, cumulative, 1_795_435_200_000])
            }
        }
        try queue.close()
        try (lines.joined(separator: "\n") + "\n").write(toFile: deployment.mirror, atomically: false, encoding: .utf8)
        return lines
    }

    @Test func anOldDataDirectoryImportsItsLogAndGainsTheSpendItsLedgerLacked() async throws {
        let deployment = try Deployment()
        let oldLines = try Self.writeOldDataDirectory(deployment, ledgerRows: 2)
        let context = try await deployment.open(total: 10)

        let spends = try await context.stores.ledger.allSpends()
        #expect(spends.count == 3, "the spend the old ledger lacked is never un-spent")
        #expect(spends.map(\.auditSeq) == [3, 4, 5])
        #expect(spends.map(\.purpose) == ["query 0", "query 1", "query 2"])
        let verified = try await Deployment.verify(context)
        #expect(verified.isValid, "\(verified.failureDescription ?? "")")
        #expect(verified.chain.epsilon.spendsChecked == 3)
        #expect(verified.ledger.agrees && verified.ledger.spends == 3)
        // The log's records are the chain's first records, byte for byte; the open then bound the key
        // set (key.bind) and recorded the policy.
        await context.close()
        let lines = try deployment.mirrorLines()
        #expect(Array(lines.prefix(oldLines.count)) == oldLines)
        let later = try lines.dropFirst(oldLines.count).map { try AuditBody.parse(AuditLine.parse($0).get().body).get().action }
        #expect(later == ["key.bind", "policy.load"])

        // Spending goes on from the whole ledger; the import is not repeated.
        #expect(try await Deployment.spend(0.5, in: context))
        let reopened = try await deployment.open(total: 10)
        #expect(try await reopened.stores.ledger.allSpends().count == 4)
        #expect(try await Deployment.verify(reopened).isValid)
    }

    @Test func anOldLogThatDoesNotVerifyIsNotImported() async throws {
        let deployment = try Deployment()
        var lines = try Self.writeOldDataDirectory(deployment, ledgerRows: 3)
        lines[2] = lines[2].replacingOccurrences(of: "query 0", with: "query X")
        try (lines.joined(separator: "\n") + "\n").write(toFile: deployment.mirror, atomically: false, encoding: .utf8)
        let error = try await #require(throws: VeilError.self) { try await deployment.open(total: 10) }
        #expect(error.code == .integrity)
        #expect(error.field == deployment.mirror)
        #expect(error.message.contains("line 3"))
    }
}
