import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilStore
import VeilSynth
import VeilRuntime
@testable import VeilModels

/// A scratch deployment: fresh keys, a policy file, a data directory with synthetic users' events written
/// straight into the store (pseudonymised with the ring, raw IDs escrowed as ingestion would).
struct TrainingFixture {
    let directory: String
    let context: VeilContext
    let shoppers: SyntheticShoppers
    /// Every synthetic raw user ID that was stored (to scan outputs for).
    let userIDs: [String]

    /// Day 0 is 2026-01-01; with 70 days the default cutoff for tests is day 56 (2026-02-26).
    static let cutoff: Int64 = Int64(CivilDate(year: 2026, month: 2, day: 26)!.daysSinceEpoch) * 86_400_000

    /// `extraPolicy`: more top-level YAML sections appended to the policy file (e.g. `catalog:`);
    /// `extraTraining`: more lines of its `training:` section (e.g. `evaluation_share: 0.2`).
    /// `exactHoldoutMetrics`: whether cards keep their exact holdout statistics (on here, so the tests
    /// can read them; off by default in a policy).
    init(
        users: Int = 400, days: Int = 70, totalEpsilon: Double = 10, allowNonPrivate: Bool = true, extraPolicy: String = "",
        extraTraining: [String] = [], exactHoldoutMetrics: Bool = true
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("veil-training-\(UUID().uuidString)").path
        let keys = directory + "/keys"
        let ring = try KeyRing.initialize(directory: keys)
        let policyPath = directory + "/policy.yaml"
        let policy = """
            dataset: test
            budget:
              total_epsilon: \(totalEpsilon)
              delta: 1.0e-6
              max_epsilon_per_request: \(min(4, totalEpsilon))
            training:
              clipping_norm: 1.0
              allow_non_private: \(allowNonPrivate)
              exact_holdout_metrics: \(exactHoldoutMetrics)
              default_epochs: 2
              default_batch_size: 64
            """ + extraTraining.map { "\n  \($0)" }.joined() + "\n" + extraPolicy
        try policy.write(toFile: policyPath, atomically: true, encoding: .utf8)
        context = try await VeilContext.open(keysDirectory: keys, dataDirectory: directory + "/data", policyPath: policyPath, actor: "test")
        shoppers = SyntheticShoppers(SynthConfiguration(users: users, days: days, seed: 11))
        let sealer = EscrowSealer(publicKey: ring.escrowPublicKey)
        let dataKey = DataKeyRecord(id: sealer.sealedKey.id, sealed: sealer.sealedKey.sealed, created: Date())
        var ids: [String] = []
        var batch: [StoredEvent] = []
        var rawByPseudonym: [Pseudonym: String] = [:]
        for index in 0..<users {
            let events = try shoppers.storedEvents(
                ofUser: index, users: ring.userPseudonymizer, sessions: ring.sessionPseudonymizer)
            guard let first = events.first else { continue }
            ids.append(shoppers.userID(index))
            rawByPseudonym[first.pseudonym] = shoppers.userID(index)
            batch += events
        }
        let raw = rawByPseudonym
        let epoch = ring.epoch
        _ = try await context.events.commit(
            EventBatchWrite(
                events: batch, dataKey: dataKey,
                escrow: { pseudonym in
                    let sealed = sealer.seal(raw[pseudonym] ?? "", for: pseudonym)
                    return VaultRecord(
                        pseudonym: pseudonym, epoch: epoch, dataKeyID: sealed.dataKeyID, nonce: sealed.nonce,
                        ciphertext: sealed.ciphertext)
                },
                audit: { result in
                    AuditDraft(actor: "test", action: .ingestBatch, details: ["accepted": .int(Int64(result.inserted))])
                }))
        userIDs = ids
    }

    var trainer: TrainingService {
        context.trainingService()
    }

    /// A training service on the fixture's budget and registry that reads events and users through
    /// `counting` (to show what a refused run reads).
    func trainer(readingThrough counting: CountingStore) -> TrainingService {
        TrainingService(
            policy: context.policy, master: context.keys.master, events: counting, vault: counting, budget: context.budget,
            models: context.models)
    }

    /// The field a refused training run names (nil when it trains).
    func refusedField(_ request: TrainingRequest) async -> String? {
        do {
            _ = try await trainer.train(request, principal: "cli")
            return nil
        } catch let error as VeilError {
            return error.field
        } catch {
            return "\(error)"
        }
    }

    /// Approves model `id` for serving, with a quality override only where the model does not beat its
    /// baselines (`ModelRegistry.approve` refuses an override that has nothing to override). The
    /// fixture's keys are new every run, so its keyed holdout — and whether its small model beats its
    /// baselines — changes from run to run; the tests that call this test serving, not quality.
    func approveForServing(_ id: String) async throws {
        do {
            _ = try await context.models.approve(id: id, reviewer: "reviewer-1", note: "fine")
        } catch let refusal as VeilError where refusal.field == "override_quality" {
            _ = try await context.models.approve(
                id: id, reviewer: "reviewer-1", note: "fine", qualityOverride: "fixture model below its baselines; serving is under test")
        }
    }

    /// A request on the fixture's window.
    static func request(
        _ task: PredictionTask = .purchase, epsilon: Double? = 2, seed: UInt64? = 42, nonPrivate: Bool = false
    ) -> TrainingRequest {
        TrainingRequest(
            task: task, epsilon: epsilon, model: .logistic, epochs: 2, batchSize: 64, cutoffMillis: cutoff,
            horizonDays: 14, seed: seed, nonPrivate: nonPrivate)
    }
}

/// An event store that counts reads, to show a refused run reads nothing. Everything else goes to the
/// real store it wraps.
final class CountingStore: EventStore, IdentityVault, @unchecked Sendable {
    let base: any EventStore
    let vault: any IdentityVault
    private let lock = NSLock()
    private var reads = 0
    var eventReads: Int { lock.withLock { reads } }

    init(_ stores: StoreSet) {
        base = stores.events
        vault = stores.vault
    }

    private func count() { lock.withLock { reads += 1 } }

    func commit(_ batch: EventBatchWrite) async throws -> BatchCommit { try await base.commit(batch) }
    func commitAll(
        _ batches: EventBatchStream, stored: @escaping @Sendable (BatchCommit) -> Void,
        audit: @escaping @Sendable (BatchCommit) -> AuditDraft
    ) async throws -> BatchCommit {
        try await base.commitAll(batches, stored: stored, audit: audit)
    }
    func eventCount() async throws -> Int { try await base.eventCount() }
    func events(for pseudonym: Pseudonym) async throws -> [StoredEvent] {
        count()
        return try await base.events(for: pseudonym)
    }
    func events(after cursor: EventCursor?, limit: Int) async throws -> EventChunk {
        count()
        return try await base.events(after: cursor, limit: limit)
    }
    func scan(_ filter: EventFilter, chunkSize: Int, _ body: @escaping @Sendable ([StoredEvent]) throws -> Void) async throws {
        count()
        try await base.scan(filter, chunkSize: chunkSize, body)
    }
    func erase(_ pseudonym: Pseudonym, audit: @escaping @Sendable (ErasureCounts) -> AuditDraft) async throws -> ErasureCounts {
        try await base.erase(pseudonym, audit: audit)
    }
    // Metadata (index lookups, no event row): not counted as event reads.
    func latestEventMillis() async throws -> Int64? { try await base.latestEventMillis() }
    func containsEvents(in range: Range<Int64>) async throws -> Bool { try await base.containsEvents(in: range) }
    func settle() async throws -> Double { try await base.settle() }
    func statistics() async throws -> StoredEventStatistics {
        count()
        return try await base.statistics()
    }
    func identity(for pseudonym: Pseudonym) async throws -> VaultRecord? { try await vault.identity(for: pseudonym) }
    func dataKey(id: String) async throws -> DataKeyRecord? { try await vault.dataKey(id: id) }
    func identityCount() async throws -> Int { try await vault.identityCount() }
}
