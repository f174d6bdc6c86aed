import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilModels
import VeilStore
import VeilSynth

/// The read side of training: how fast `TrainingPipeline.examples` turns stored events into one
/// feature row per user, over a real SQLite store (the step before DP-SGD in every `veil train`, and the
/// same scan `veil score` makes). Reports the raw chunked scan alone and the scan with feature
/// extraction, in events/s and users/s.
///
/// Environment: `VEIL_BENCH_FEATURE_USERS` (20000 synthetic users over 120 days, about 1.9 M events).
enum FeatureBenchmarks {
    static let all: [Benchmark] = [Benchmark(name: "learning.features") { try await run() }]

    static func run() async throws -> [BenchResult] {
        let users = BenchSettings.current.featureUsers
        let deployment = try await BenchDeployment.make()
        let ring = deployment.context.keys
        let store = deployment.context.events
        let shoppers = SyntheticShoppers(SynthConfiguration(users: users, days: 120, seed: 7))
        let events = try await fill(store, with: shoppers, ring: ring)

        let latest = try await store.latestEventMillis() ?? 0
        let cutoff = TrainingPlan.defaultCutoff(latestEventMillis: latest, horizonDays: 14)
        let window = FeatureWindow(observationStart: nil, cutoff: cutoff, horizonEnd: cutoff + 14 * FeatureWindow.millisPerDay)
        let extractor = FeatureExtractor(schema: FeatureSchema(policy: Policy()), window: window)

        var scanned = 0
        let scanSeconds = try await seconds {
            try await store.forEachEventChunk(chunkSize: 50_000) { scanned += $0.count }
        }
        var examples = 0
        let extractSeconds = try await seconds {
            examples = try await TrainingPipeline.examples(from: store, extractor: extractor).count
        }
        deployment.remove()
        guard scanned == events, examples > 0 else { throw VeilError(.integrity, "the scan saw \(scanned) of \(events) events") }
        return [
            BenchResult(name: "learning.features.stored_events", value: Double(events), unit: "events"),
            BenchResult(name: "learning.features.scan", value: Double(events) / scanSeconds, unit: "events/s"),
            BenchResult(name: "learning.features.extract", value: Double(events) / extractSeconds, unit: "events/s"),
            BenchResult(name: "learning.features.extract_users", value: Double(examples) / extractSeconds, unit: "users/s"),
        ]
    }

    /// Stores every synthetic user's events (pseudonymised, escrowed) in batches; returns the event count.
    static func fill(_ store: any EventStore, with shoppers: SyntheticShoppers, ring: KeyRing) async throws -> Int {
        let sealer = EscrowSealer(publicKey: ring.escrowPublicKey)
        let dataKey = DataKeyRecord(id: sealer.sealedKey.id, sealed: sealer.sealedKey.sealed, created: Date())
        let epoch = ring.epoch
        var total = 0
        let batchUsers = 2_000
        for first in stride(from: 0, to: shoppers.configuration.users, by: batchUsers) {
            var batch: [StoredEvent] = []
            for index in first..<min(first + batchUsers, shoppers.configuration.users) {
                batch += try shoppers.storedEvents(ofUser: index, users: ring.userPseudonymizer, sessions: ring.sessionPseudonymizer)
            }
            total += batch.count
            _ = try await store.commit(
                EventBatchWrite(events: batch, dataKey: dataKey) { pseudonym in
                    let sealed = sealer.seal("synthetic", for: pseudonym)
                    return VaultRecord(
                        pseudonym: pseudonym, epoch: epoch, dataKeyID: sealed.dataKeyID, nonce: sealed.nonce,
                        ciphertext: sealed.ciphertext)
                })
        }
        return total
    }

    static func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
