import Foundation
import Testing
import VeilCore
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

/// A reservation's decision composes only the spends committed since the one before
/// (`LedgerComposition`); what it composes must stay, bit for bit, what composing every spend from
/// scratch gives — for the dataset, each capped role and each capped principal — and a ledger that
/// does not extend the kept spends (a restored database, a group that failed to commit) must be
/// composed from scratch.
@Suite struct LedgerCompositionTests {
    private static let delta = 1e-6
    private static let methods = [AccountingMethod(.pld), .rdp]
    private static let mechanisms: [PrivacyMechanism] = [
        .pureEpsilon(epsilon: 0.05), .laplace(epsilon: 0.1, count: 2), .gaussian(noiseMultiplier: 4, count: 1),
        .subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 100), .discreteGaussian(sigma: 8, sensitivity: 1, count: 3),
    ]
    private static let roles = ["analyst", "trainer", "admin"]
    private static let principals = ["alice", "bob", "cli"]

    /// 60 spends drawn with a fixed seed: mechanisms, roles and principals mixed.
    private static func spends(seed: UInt64 = 7, count: Int = 60, firstID: Int64 = 1) throws -> [BudgetSpend] {
        var random = SplitMix64(seed: seed)
        return try (0..<count).map { index in
            BudgetSpend(
                id: firstID + Int64(index), dataset: "shop", principal: principals.randomElement(using: &random)!,
                role: roles.randomElement(using: &random)!, purpose: "release \(index)",
                mechanism: try BudgetService.encode(mechanisms.randomElement(using: &random)!), epsilon: 0, delta: delta,
                cumulativeEpsilon: 0, createdMillis: 0)
        }
    }

    private static func composition(_ method: AccountingMethod) -> LedgerComposition {
        LedgerComposition(method: method, cappedRoles: ["analyst", "trainer"], cappedPrincipals: ["alice"], decode: BudgetService.decode)
    }

    /// ε of the spends `include` keeps, composed from scratch.
    private static func fromScratch(
        _ spends: [BudgetSpend], method: AccountingMethod, _ include: (BudgetSpend) -> Bool = { _ in true }
    ) throws -> Double {
        let kept = try spends.filter(include).map { try BudgetService.decode($0.mechanism) }
        return kept.isEmpty ? 0 : PrivacyAccountant.epsilon(composing: kept, delta: delta, method: method)
    }

    /// Each decision handed one more spend than the one before: the kept composition equals the
    /// composition from scratch after every spend, for the dataset, the capped roles and principal,
    /// and with a candidate composed after them.
    @Test(arguments: methods) func growingLedgerMatchesCompositionFromScratch(method: AccountingMethod) throws {
        let spends = try Self.spends()
        let composition = Self.composition(method)
        let candidate = PrivacyMechanism.laplace(epsilon: 0.2, count: 1)
        for count in [0, 1, 2, 3, 10, 11, 30, 31, 59, 60] {
            let prefix = Array(spends.prefix(count))
            let composed = try composition.composed(LedgerSnapshot(prefix))
            #expect(composed.dataset.spent(delta: Self.delta) == (try Self.fromScratch(prefix, method: method)))
            let withCandidate = try prefix.map { try BudgetService.decode($0.mechanism) } + [candidate]
            #expect(
                composed.dataset.epsilon(then: candidate, delta: Self.delta)
                    == PrivacyAccountant.epsilon(composing: withCandidate, delta: Self.delta, method: method))
            for role in ["analyst", "trainer"] {
                #expect(
                    composed.role(role, method: method).spent(delta: Self.delta)
                        == (try Self.fromScratch(prefix, method: method) { $0.role == role }), "role \(role) after \(count) spends")
            }
            #expect(
                composed.principal("alice", method: method).spent(delta: Self.delta)
                    == (try Self.fromScratch(prefix, method: method) { $0.principal == "alice" }))
            #expect(composition.keptSpendIDs() == prefix.map(\.id))
        }
    }

    /// Decisions as a ledger runs them: each composes its request after the kept spends
    /// (`datasetEpsilon`), and the next is handed the ledger with that release when it was granted,
    /// or without it when it was refused (every third). The request's composition is taken over for a
    /// granted one; every answer equals the composition from scratch, bit for bit.
    @Test(arguments: methods) func aGrantedRequestsCompositionIsTakenOverExactly(method: AccountingMethod) throws {
        let spends = try Self.spends(count: 30)
        let composition = Self.composition(method)
        var ledger: [BudgetSpend] = []
        for (index, spend) in spends.enumerated() {
            let composed = try composition.composed(LedgerSnapshot(ledger))
            #expect(composed.dataset.spent(delta: Self.delta) == (try Self.fromScratch(ledger, method: method)))
            let request = try BudgetService.decode(spend.mechanism)
            let mechanisms = try ledger.map { try BudgetService.decode($0.mechanism) }
            #expect(
                composition.datasetEpsilon(composed, then: request, delta: Self.delta)
                    == PrivacyAccountant.epsilon(composing: mechanisms + [request], delta: Self.delta, method: method))
            if index % 3 != 2 { ledger.append(spend) }
        }
        #expect(try composition.composed(LedgerSnapshot(ledger)).dataset.spent(delta: Self.delta) == (try Self.fromScratch(ledger, method: method)))
    }

    /// A ledger that does not extend the kept spends is composed from scratch: one with fewer spends
    /// (restored), one whose newest kept spend never committed (a failed group: the next spends carry
    /// other ids), and one whose kept spend changed role.
    @Test(arguments: methods) func aLedgerThatDoesNotExtendTheKeptOneIsComposedFromScratch(method: AccountingMethod) throws {
        let spends = try Self.spends()
        let composition = Self.composition(method)
        _ = try composition.composed(LedgerSnapshot(spends))

        let restored = Array(spends.prefix(20))
        #expect(try composition.composed(LedgerSnapshot(restored)).dataset.spent(delta: Self.delta) == (try Self.fromScratch(restored, method: method)))
        #expect(composition.keptSpendIDs() == restored.map(\.id))

        let failedGroup = Array(spends.prefix(19)) + (try Self.spends(seed: 99, count: 5, firstID: 1_000))
        let composed = try composition.composed(LedgerSnapshot(failedGroup))
        #expect(composed.dataset.spent(delta: Self.delta) == (try Self.fromScratch(failedGroup, method: method)))
        #expect(
            composed.principal("alice", method: method).spent(delta: Self.delta)
                == (try Self.fromScratch(failedGroup, method: method) { $0.principal == "alice" }))

        var changed = failedGroup
        changed[3].role = changed[3].role == "analyst" ? "trainer" : "analyst"
        #expect(
            try composition.composed(LedgerSnapshot(changed)).role("analyst", method: method).spent(delta: Self.delta)
                == (try Self.fromScratch(changed, method: method) { $0.role == "analyst" }))
    }

    /// A snapshot of the lineage the kept composition was last checked against, no shorter, extends it
    /// without a spend-by-spend check (`LedgerSnapshot`'s contract, which the stores keep: the store
    /// contract checks it); a snapshot of another lineage is checked once, then trusted; a shorter one
    /// is composed from scratch. Every answer is the composition from scratch, bit for bit.
    @Test(arguments: methods) func aSnapshotOfTheKeptLineageIsNotComparedAgain(method: AccountingMethod) throws {
        let spends = try Self.spends(count: 30)
        let composition = Self.composition(method)
        let lineage = LedgerLineage.fresh()
        for count in [5, 10, 10, 30] {
            let prefix = Array(spends.prefix(count))
            let composed = try composition.composed(LedgerSnapshot(prefix, lineage: lineage))
            #expect(composed.dataset.spent(delta: Self.delta) == (try Self.fromScratch(prefix, method: method)))
        }
        #expect(composition.spendBySpendChecks == 0)
        let other = LedgerLineage.fresh()
        for _ in 0..<2 { _ = try composition.composed(LedgerSnapshot(spends, lineage: other)) }
        #expect(composition.spendBySpendChecks == 1)
        let shorter = Array(spends.prefix(12))
        let composed = try composition.composed(LedgerSnapshot(shorter, lineage: other))
        #expect(composed.dataset.spent(delta: Self.delta) == (try Self.fromScratch(shorter, method: method)))
        #expect(composition.keptSpendIDs() == shorter.map(\.id))
    }

    /// A damaged mechanism fails the decision and keeps nothing of the list it was handed.
    /// `wouldComposeCostly` (what a PostgreSQL group asks before it decides under the locks): true for
    /// a spend past the kept composition whose mechanism is not pure ε — anywhere, when nothing kept
    /// extends the snapshot — and false once it is composed, for pure-ε spends, for the request a
    /// decision remembered (taken over, not composed), and under RDP. Asking changes nothing kept.
    @Test func aCostlyCompositionIsAnUncomposedSpendThatIsNotPureEpsilon() throws {
        let composition = Self.composition(AccountingMethod(.pld))
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 100)
        func spend(_ id: Int64, _ mechanism: PrivacyMechanism) throws -> BudgetSpend {
            BudgetSpend(
                id: id, dataset: "shop", principal: "alice", role: "analyst", purpose: "release \(id)",
                mechanism: try BudgetService.encode(mechanism), epsilon: 0, delta: Self.delta, cumulativeEpsilon: 0, createdMillis: 0)
        }
        let pure = [try spend(1, .pureEpsilon(epsilon: 0.1)), try spend(2, .pureEpsilon(epsilon: 0.2))]
        #expect(!composition.wouldComposeCostly(LedgerSnapshot(pure)))
        let trained = pure + [try spend(3, training)]
        #expect(composition.wouldComposeCostly(LedgerSnapshot(trained)))
        #expect(composition.keptSpendIDs().isEmpty)
        let composed = try composition.composed(LedgerSnapshot(trained))
        #expect(!composition.wouldComposeCostly(LedgerSnapshot(trained + [try spend(4, .pureEpsilon(epsilon: 0.1))])))
        _ = composition.datasetEpsilon(composed, then: training, delta: Self.delta)
        #expect(!composition.wouldComposeCostly(LedgerSnapshot(trained + [try spend(4, training)])), "the remembered request")
        #expect(composition.wouldComposeCostly(LedgerSnapshot(trained + [try spend(4, training), try spend(5, training)])))
        #expect(composition.wouldComposeCostly(LedgerSnapshot([try spend(9, training)])), "a ledger the kept one does not start")
        #expect(composition.keptSpendIDs() == [1, 2, 3])
        #expect(!Self.composition(.rdp).wouldComposeCostly(LedgerSnapshot(trained)))
    }

    @Test func aDamagedMechanismIsAnIntegrityErrorAndKeepsNothing() throws {
        var spends = try Self.spends(count: 5)
        let composition = Self.composition(.rdp)
        _ = try composition.composed(LedgerSnapshot(Array(spends.prefix(3))))
        spends[4].mechanism = "{\"pure_epsilon\":"
        #expect(throws: VeilError.self) { try composition.composed(LedgerSnapshot(spends)) }
        #expect(composition.keptSpendIDs() == spends.prefix(3).map(\.id))
    }

    /// `BudgetService.decode`, which remembers what it decoded: asked again, for each of many texts in
    /// turn, it answers the mechanism the text was encoded from every time; a damaged text is refused
    /// every time (a refusal is not remembered).
    @Test func decodingIsRightEveryTimeItIsAsked() throws {
        let texts = try Self.mechanisms.map { try BudgetService.encode($0) }
        for _ in 0..<3 {
            for (text, mechanism) in zip(texts, Self.mechanisms).shuffled() { #expect(try BudgetService.decode(text) == mechanism) }
        }
        for _ in 0..<2 { #expect(throws: VeilError.self) { try BudgetService.decode("{\"mechanism\":") } }
    }

    /// After two spends and a refusal (the decision threw inside the store's transaction), the
    /// reservation's kept composition is the store's two spends: the refused release is not in it.
    @Test func aRefusedReservationLeavesTheCompositionNoFurtherThanTheStore() async throws {
        let training = PrivacyMechanism.subsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1, steps: 1000)
        let stores = try ScratchStores.open()
        var policy = Policy()
        policy.budget.totalEpsilon =
            PrivacyAccountant.epsilon(composing: [training, training], delta: 1e-6, method: AccountingMethod(.pld)) + 0.01
        policy.budget.maxEpsilonPerRequest = policy.budget.totalEpsilon
        let service = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        for purpose in ["train purchase", "train churn", "train again"] {
            _ = try? await service.reserve(BudgetRequest(principal: "cli", role: .trainer, purpose: purpose, mechanism: training))
        }
        let stored = try await stores.ledger.spends(dataset: policy.dataset)
        #expect(try stored.map { try BudgetService.decode($0.mechanism) } == [training, training])
        #expect(service.composition.keptSpendIDs() == stored.map(\.id))
    }

    /// `warm` (what `veil serve` calls before it listens) composes the committed spends before any
    /// reservation of its own, and the first reservation after it answers, bit for bit, as a service
    /// that was not warmed (the other replica's spends are what it composes).
    @Test func aWarmedServiceHoldsTheLedgerAndDecidesAsAColdOne() async throws {
        let stores = try ScratchStores.open()
        let policy = Policy()
        let writer = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        for epsilon in [0.05, 0.1, 0.02] {
            try await writer.reserve(
                BudgetRequest(principal: "alice", role: .analyst, purpose: "count", mechanism: .laplace(epsilon: epsilon, count: 1)))
        }
        let warmed = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        #expect(warmed.composition.keptSpendIDs().isEmpty)
        try await warmed.warm()
        let stored = try await stores.ledger.spends(dataset: policy.dataset)
        #expect(warmed.composition.keptSpendIDs() == stored.map(\.id))
        let request = BudgetRequest(principal: "bob", role: .analyst, purpose: "sum", mechanism: .gaussian(noiseMultiplier: 3, count: 1))
        let receipt = try await warmed.reserve(request)
        let committed = try stored.map { try BudgetService.decode($0.mechanism) } + [request.mechanism]
        let method = AccountingMethod(policy.privacy.accountant)
        #expect(receipt.cumulativeEpsilon == PrivacyAccountant.epsilon(composing: committed, delta: policy.budget.delta, method: method))
    }

    /// `status` composes each spend once, onto the dataset's and its principal's running composition;
    /// every ε it reports — the dataset's, each principal's, and each spend's principal timeline —
    /// equals, bit for bit, composing that list of spends from scratch.
    @Test(arguments: [AccountantKind.pld, .rdp]) func statusEqualsCompositionFromScratch(accountant: AccountantKind) async throws {
        let stores = try ScratchStores.open()
        var policy = Policy()
        policy.privacy.accountant = accountant
        policy.budget.totalEpsilon = 1_000
        policy.budget.maxEpsilonPerRequest = 1_000
        let method = AccountingMethod(accountant)
        let service = BudgetService(policy: policy, store: stores.ledger, audit: stores.audit)
        var random = SplitMix64(seed: 11)
        var issued: [(principal: String, mechanism: PrivacyMechanism)] = []
        for index in 0..<24 {
            let principal = Self.principals.randomElement(using: &random)!
            let mechanism = Self.mechanisms.randomElement(using: &random)!
            try await service.reserve(
                BudgetRequest(principal: principal, role: .analyst, purpose: "release \(index)", mechanism: mechanism))
            issued.append((principal, mechanism))
        }
        func fromScratch(_ mechanisms: [PrivacyMechanism]) -> Double {
            PrivacyAccountant.epsilon(composing: mechanisms, delta: policy.budget.delta, method: method)
        }
        let status = try await service.status()
        #expect(status.spentEpsilon == fromScratch(issued.map(\.mechanism)))
        #expect(status.spends.map(\.principal) == issued.map(\.principal))
        for (index, row) in status.spends.enumerated() {
            let sofar = issued.prefix(index + 1).filter { $0.principal == row.principal }.map(\.mechanism)
            #expect(row.principalCumulativeEpsilon == fromScratch(sofar), "spend \(index)")
        }
        for principal in status.principals {
            #expect(principal.spentEpsilon == fromScratch(issued.filter { $0.principal == principal.principal }.map(\.mechanism)))
        }
        #expect(status.principals.map(\.principal) == Set(issued.map(\.principal)).sorted())
    }
}
