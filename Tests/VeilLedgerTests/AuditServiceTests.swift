import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilCrypto
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

/// The audit use cases over a real store and a real signed chain: verify (chain, ε, ledger, mirror),
/// verify-then-checkpoint, export.
@Suite struct AuditServiceTests {
    let directory = ScratchStores.directory()
    let signing = SigningKey.generate()
    /// 2026-11-23T12:00:00Z
    static let now = Date(timeIntervalSince1970: 1_795_435_200)

    private func service(_ stores: StoreSet) -> AuditService {
        AuditService(
            chain: stores.audit, ledger: stores.ledger, settings: stores.settings, mirrorPath: AuditMirror.path(dataDirectory: directory),
            clock: .fixed(Self.now))
    }

    private func budget(_ stores: StoreSet) -> BudgetService {
        var policy = Policy()
        policy.dataset = "shop"
        return BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
    }

    @Test func checkpointOfAValidChainNamesItsHeadAndVerifiesAgainstIt() async throws {
        let stores = try ScratchStores.open(in: directory, signingKey: signing)
        try await stores.audit.record(actor: "cli", action: .policyLoad, details: [:])
        try await budget(stores).reserve(
            BudgetRequest(principal: "trainer-1", role: .trainer, purpose: "train", mechanism: .pureEpsilon(epsilon: 0.5)))
        let audit = service(stores)
        #expect(try await audit.lastCheckpoint() == nil)
        let checkpoint = try await audit.checkpoint(signingKey: signing)
        // Kept in the store, so the server shows it beside the head (GET /v1/audit/status).
        #expect(try await audit.lastCheckpoint() == checkpoint)
        #expect(checkpoint.seq == 2)
        #expect(checkpoint.time == "2026-11-23T12:00:00.000Z")
        #expect(checkpoint.isValid(publicKey: signing.publicKey))
        let verified = try await audit.verify(publicKey: signing.publicKey, checkpoint: checkpoint)
        #expect(verified.isValid)
        #expect(verified.chain.epsilon.performed && verified.chain.epsilon.spendsChecked == 1)
        #expect(verified.ledger.agrees && verified.ledger.spends == 1 && verified.ledger.spendRecords == 1)
        #expect(verified.mirror.agrees)
    }

    /// Signed by the host's own key, chained correctly, but the spend claims less ε than its mechanism
    /// costs: `verify` fails it on the recomputation, and `checkpoint` must refuse to vouch for it.
    @Test func checkpointRefusesAChainWhoseEpsilonDoesNotRecompute() async throws {
        let stores = try ScratchStores.open(in: directory, signingKey: signing)
        try await stores.audit.record(actor: "cli", action: .policyLoad, details: [:])
        _ = try await stores.ledger.reserve(dataset: "shop") { _ in
            let spend = BudgetSpend(
                dataset: "shop", principal: "trainer-1", role: "trainer", purpose: "train",
                mechanism: #"{"epsilon":1,"mechanism":"pure_epsilon"}"#, epsilon: 1, delta: 1e-6, cumulativeEpsilon: 0.5,
                createdMillis: 0)
            return LedgerEntry(
                spend: spend,
                audit: AuditDraft(
                    actor: "trainer-1", action: .budgetSpend,
                    details: [
                        "dataset": "shop", "mechanism": BudgetService.json(PrivacyMechanism.pureEpsilon(epsilon: 1)), "epsilon": 1, "delta": 1e-6,
                        "cumulative_epsilon": 0.5,
                    ]))
        }
        let audit = service(stores)
        let verified = try await audit.verify(publicKey: signing.publicKey)
        #expect(verified.chain.failure?.seq == 2)
        let error = try await #require(throws: VeilError.self) { try await audit.checkpoint(signingKey: signing) }
        #expect(error.code == .integrity)
        #expect(error.message.contains("seq 2"))
        #expect(error.message.contains("cumulative_epsilon"))
        #expect(error.message.contains("refusing to sign a checkpoint"))
        #expect(try await audit.lastCheckpoint() == nil, "a refused checkpoint is not kept")
    }

    /// A `budget.spend` record the ledger has no row for — what a crash between the old log append and
    /// the ledger's commit left (issue 11 item 2) — makes the chain and the ledger disagree: verify says
    /// so and checkpoint refuses, although the chain itself verifies.
    @Test func aSpendRecordWithoutItsLedgerRowFailsVerification() async throws {
        let stores = try ScratchStores.open(in: directory, signingKey: signing)
        let release = PrivacyMechanism.pureEpsilon(epsilon: 0.5)
        try await stores.audit.record(
            actor: "trainer-1", action: .budgetSpend,
            details: [
                "dataset": "shop", "mechanism": BudgetService.json(release), "epsilon": 0.5, "delta": 1e-6,
                "cumulative_epsilon": .double(RDPAccountant.epsilon(composing: [release], delta: 1e-6).epsilon),
            ])
        let audit = service(stores)
        let verified = try await audit.verify(publicKey: signing.publicKey)
        #expect(verified.chain.isValid)
        #expect(!verified.ledger.agrees)
        #expect(verified.ledger.note.contains("record 1 (budget.spend) has no ledger row"))
        #expect(!verified.isValid)
        let error = try await #require(throws: VeilError.self) { try await audit.checkpoint(signingKey: signing) }
        #expect(error.message.contains("the ledger and the chain disagree"))
    }

    @Test func aMirrorAheadOfTheChainOrDifferentFromItFailsVerification() async throws {
        let stores = try ScratchStores.open(in: directory, signingKey: signing)
        try await stores.audit.record(actor: "cli", action: .policyLoad, details: [:])
        let mirror = try AuditMirror(path: AuditMirror.path(dataDirectory: directory), publicKey: signing.publicKey)
        try mirror.append(try await stores.audit.records(after: 0, limit: 10))
        #expect(try await service(stores).verify(publicKey: signing.publicKey).mirror.agrees)
        // A record sealed elsewhere with the same key: the mirror now runs ahead of the store.
        let elsewhere = try AuditSigner(signingKey: signing).seal(
            AuditDraft(actor: "cli", action: .queryRun, details: [:]), after: try mirror.head())
        try mirror.append([elsewhere])
        let verified = try await service(stores).verify(publicKey: signing.publicKey)
        #expect(!verified.mirror.agrees && !verified.isValid)
        #expect(verified.mirror.note.contains("the mirror holds 2 records but the database only 1"))
    }

    @Test func exportIsTheChainInTheLogFormatAndSinceGivesTheRest() async throws {
        let stores = try ScratchStores.open(in: directory, signingKey: signing)
        for index in 0..<5 { try await stores.audit.record(actor: "cli", action: .queryRun, details: ["n": .int(Int64(index))]) }
        let export = AuditExport(chain: stores.audit)
        let all = try await export.bytes()
        let lines = AuditVerifier.lines(of: all)
        #expect(AuditVerifier.verify(lines: lines, publicKey: signing.publicKey, checkpoint: nil).recordsChecked == 5)
        let head = Array(lines.prefix(2).joined(separator: "\n").utf8) + [UInt8(ascii: "\n")]
        #expect(head + (try await export.bytes(since: 2)) == all)
        #expect(try await export.bytes(since: 5).isEmpty)
    }
}
