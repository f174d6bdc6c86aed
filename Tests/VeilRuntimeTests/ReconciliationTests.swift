import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilLedger
import VeilPrivacy
import VeilRuntime
import VeilStore

/// Opening a data directory reconciles `audit.log` (the mirror) with the chain in the store
/// (crash-contract.md §2–3): a mirror behind is caught up; a database behind the log, or telling
/// another story, is refused before anything is read or written; `veil db recover` rebuilds the chain
/// and the ledger from the signed log.
@Suite struct ReconciliationTests {
    @Test func aNewDataDirectoryStartsItsChainWithKeyInitAndTheMirrorFollows() async throws {
        let deployment = try Deployment()
        let context = try await deployment.open()
        try await Deployment.spend(0.2, in: context)
        #expect(await context.close() == nil)
        let actions = try deployment.mirrorLines().map { try AuditBody.parse(AuditLine.parse($0).get().body).get().action }
        #expect(actions == ["key.init", "policy.load", "budget.spend"])
        let verified = try await Deployment.verify(context)
        #expect(verified.isValid, "\(verified.failureDescription ?? "")")
        #expect(verified.mirror.note == "the mirror holds every record")
    }

    /// A crash after the store's commit and before the mirror's append leaves the mirror behind: the
    /// next open appends what it lacks.
    @Test func aMirrorBehindTheStoreIsCaughtUpAtOpen() async throws {
        let deployment = try Deployment()
        do {
            let context = try await deployment.open(total: 10)
            for _ in 0..<4 { try await Deployment.spend(0.5, in: context) }
            await context.close()
        }
        let lines = try deployment.mirrorLines()
        try (lines.prefix(2).joined(separator: "\n") + "\n").write(toFile: deployment.mirror, atomically: false, encoding: .utf8)
        let reopened = try await deployment.open(total: 10)
        #expect(try deployment.mirrorLines() == lines)
        #expect(try await Deployment.verify(reopened).isValid)
    }

    /// Issue 11, item 3: with 0.9948 of a 1.0 cap spent, `: > veil.sqlite` let 10 of 12 further 0.1
    /// spends through — a fresh ledger beside a log that records spends. Here the budget is spent in
    /// 0.1 steps until one is refused; the emptied database is then refused (naming both files and both
    /// seqs), and `veil db recover` restores the spends from the signed log: 0 of 12 further 0.1 spends
    /// go through. (On the old code the reopen succeeded with an empty ledger and spends were accepted.)
    @Test func anEmptiedDatabaseIsRefusedAndRecoveryKeepsTheBudgetSpent() async throws {
        let deployment = try Deployment()
        var spent = 0.0
        var spends = 0
        do {
            let context = try await deployment.open()
            while try await Deployment.spend(0.1, in: context) { spends += 1 }
            spent = try await context.budget.status().spentEpsilon
            await context.close()
        }
        #expect(spends > 5 && spent > 0.9 && spent <= 1)
        let head = UInt64(2 + spends + 1)  // key.init, policy.load, the spends, the refusal
        try deployment.deleteDatabase()
        #expect(FileManager.default.createFile(atPath: deployment.database, contents: nil))  // `: > veil.sqlite`

        let refused = try await #require(throws: VeilError.self) { try await deployment.open() }
        #expect(refused.code == .integrity)
        #expect(refused.field == deployment.database)
        #expect(refused.message.contains(deployment.mirror))
        #expect(refused.message.contains("ends at audit seq 0") && refused.message.contains("records seq \(head)"))
        #expect(refused.message.contains("un-spend") && refused.message.contains("veil db recover"))

        let ring = try KeyRing.load(directory: deployment.keys)
        let (report, opened) = try await OpenedDataDirectory.recover(directory: deployment.data, keys: ring, clock: .system, actor: "cli")
        await opened.close()
        #expect([report.fromSeq, report.toSeq] == [0, head] && report.recordsAdopted == Int(head))
        #expect(report.spendsRestored == spends)

        let context = try await deployment.open()
        var accepted = 0
        for _ in 0..<12 where try await Deployment.spend(0.1, in: context) { accepted += 1 }
        #expect(accepted == 0)
        #expect(try await context.budget.status().spentEpsilon == spent)
        let verified = try await Deployment.verify(context)
        #expect(verified.isValid, "\(verified.failureDescription ?? "")")
        #expect(verified.ledger.spends == spends && verified.ledger.spendRecords == spends)
    }

    /// A database restored from an older copy is behind the log: refused, then recovered to the log's
    /// head with every later spend back in the ledger under its own id.
    @Test func anOlderDatabaseIsRefusedAndRecoveredToTheLogsHead() async throws {
        let deployment = try Deployment()
        let backup = deployment.root + "/backup"
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: true)
        var spendsBefore: [BudgetStatus.Spend] = []
        do {
            let context = try await deployment.open(total: 10)
            try await Deployment.spend(1, in: context)
            _ = try await context.events.settle()
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: deployment.database + suffix) {
                try FileManager.default.copyItem(atPath: deployment.database + suffix, toPath: backup + "/veil.sqlite" + suffix)
            }
            try await Deployment.spend(2, in: context)
            try await Deployment.spend(0.5, in: context)
            spendsBefore = try await context.budget.status().spends
            await context.close()
        }
        try deployment.deleteDatabase()
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: backup + "/veil.sqlite" + suffix) {
            try FileManager.default.copyItem(atPath: backup + "/veil.sqlite" + suffix, toPath: deployment.database + suffix)
        }
        let refused = try await #require(throws: VeilError.self) { try await deployment.open(total: 10) }
        #expect(refused.message.contains("ends at audit seq 3") && refused.message.contains("records seq 5"))

        let ring = try KeyRing.load(directory: deployment.keys)
        let (report, opened) = try await OpenedDataDirectory.recover(directory: deployment.data, keys: ring, clock: .system, actor: "cli")
        await opened.close()
        #expect(report.recordsAdopted == 2 && report.spendsRestored == 2)
        let context = try await deployment.open(total: 10)
        // The same spends under the same ids (a restored row's time is its record's, a moment later).
        let restored = try await context.budget.status().spends
        #expect(restored.map(\.id) == spendsBefore.map(\.id))
        #expect(restored.map(\.epsilon) == spendsBefore.map(\.epsilon))
        #expect(restored.map(\.cumulativeEpsilon) == spendsBefore.map(\.cumulativeEpsilon))
        #expect(restored.map(\.mechanism) == spendsBefore.map(\.mechanism))
        #expect(try await Deployment.verify(context).isValid)
    }

    /// `veil db recover` replays every spend record with the accountant it names before adopting it: a
    /// ledger spent under RDP, then under PLD (the same DP-SGD run twice), comes back with the ε each
    /// record states, and verifies.
    @Test func recoveryReplaysEachSpendWithTheAccountantItsRecordNames() async throws {
        let deployment = try Deployment()
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        var spendsBefore: [BudgetStatus.Spend] = []
        for accountant in [AccountantKind.rdp, .pld] {
            let context = try await deployment.open(total: 10, accountant: accountant)
            try await context.budget.reserve(BudgetRequest(principal: "cli", role: .trainer, purpose: "train", mechanism: training))
            spendsBefore = try await context.budget.status().spends
            await context.close()
        }
        #expect(spendsBefore.count == 2)
        #expect(spendsBefore[1].cumulativeEpsilon == PLDAccountant.epsilon(composing: [training, training], delta: 1e-6))
        try deployment.deleteDatabase()

        let ring = try KeyRing.load(directory: deployment.keys)
        let (report, opened) = try await OpenedDataDirectory.recover(directory: deployment.data, keys: ring, clock: .system, actor: "cli")
        await opened.close()
        #expect(report.spendsRestored == 2)
        let context = try await deployment.open(total: 10)
        let restored = try await context.budget.status().spends
        #expect(restored.map(\.cumulativeEpsilon) == spendsBefore.map(\.cumulativeEpsilon))
        let verified = try await Deployment.verify(context)
        #expect(verified.isValid, "\(verified.failureDescription ?? "")")
        #expect(verified.chain.epsilon.spendsChecked == 2)
        await context.close()
    }

    /// A signed log whose spend record understates the composed ε (signed with the right key, but not
    /// what the accountant it names recomputes) is not adopted: the rebuilt ledger would spend less
    /// than its records. (Before recovery replayed ε, this log was adopted.)
    @Test func recoveryRefusesALogWhoseSpendsDoNotRecompute() async throws {
        let deployment = try Deployment()
        do {
            let context = try await deployment.open(total: 10)
            try await Deployment.spend(1, in: context)
            // A budget.spend record without its row, signed by the directory's own audit key, that
            // claims the dataset's second 1.0 spend leaves it at 1.0.
            try await context.stores.audit.record(
                actor: "cli", action: .budgetSpend,
                details: [
                    "dataset": .string(context.policy.policy.dataset), "principal": .string("analyst-1"), "role": .string("analyst"),
                    "purpose": .string("query"), "mechanism": BudgetService.json(PrivacyMechanism.pureEpsilon(epsilon: 1)),
                    "accountant": BudgetService.json(AccountingMethod.rdp), "epsilon": .double(1), "delta": .double(1e-6),
                    "cumulative_epsilon": .double(1),
                ])
            await context.close()
        }
        try deployment.deleteDatabase()
        let ring = try KeyRing.load(directory: deployment.keys)
        let refused = try await #require(throws: VeilError.self) {
            _ = try await OpenedDataDirectory.recover(directory: deployment.data, keys: ring, clock: .system, actor: "cli")
        }
        #expect(refused.code == .integrity && refused.field == deployment.mirror)
        #expect(refused.message.contains("cumulative_epsilon is 1.0 but the spends so far compose to"))
        #expect(refused.message.contains("nothing was adopted"))
    }

    /// The store's record at the mirror's head differs: the two tell different stories; refused.
    @Test func aDatabaseThatTellsAnotherStoryIsRefused() async throws {
        let deployment = try Deployment()
        let other = deployment.root + "/other"
        do {
            let context = try await deployment.open(total: 10)
            try await Deployment.spend(1, in: context)
            await context.close()
            // Another data directory under the same keys, with as many records but another spend.
            let sibling = try await VeilContext.open(
                keysDirectory: deployment.keys, dataDirectory: other, policy: Deployment.policy(total: 10), actor: "test")
            try await Deployment.spend(2, in: sibling)
            await sibling.close()
        }
        try FileManager.default.removeItem(atPath: deployment.mirror)
        try FileManager.default.copyItem(atPath: other + "/audit.log", toPath: deployment.mirror)
        let refused = try await #require(throws: VeilError.self) { try await deployment.open(total: 10) }
        #expect(refused.code == .integrity)
        #expect(refused.message.contains("another record at audit seq 3"))
        #expect(refused.message.contains("different stories"))
        // Recovery cannot rebuild one from the other either.
        let ring = try KeyRing.load(directory: deployment.keys)
        await #expect(throws: VeilError.self) {
            _ = try await OpenedDataDirectory.recover(directory: deployment.data, keys: ring, clock: .system, actor: "cli")
        }
    }

    /// A mirror that was moved aside is written again from the store, whole.
    @Test func aMissingMirrorIsRebuiltFromTheStore() async throws {
        let deployment = try Deployment()
        do {
            let context = try await deployment.open(total: 10)
            try await Deployment.spend(1, in: context)
            await context.close()
        }
        let lines = try deployment.mirrorLines()
        try FileManager.default.removeItem(atPath: deployment.mirror)
        _ = try await deployment.open(total: 10)
        #expect(try deployment.mirrorLines() == lines)
    }
}
