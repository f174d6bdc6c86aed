import VeilCore
import VeilCrypto

/// Pseudonymisation throughput and escrow cost (issue: foundation).
enum CryptoBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(name: "pseudonymize") {
            let pseudonymizer = Pseudonymizer(master: SecretBytes(randomCount: 32), epoch: 1, context: .user)
            let ids = (0..<1_000_000).map { "customer-\($0)@shop.example" }
            var sink: UInt64 = 0
            let seconds = Stopwatch.bestSeconds(repetitions: 3) {
                for id in ids { sink ^= pseudonymizer.pseudonym(for: id).low }
            }
            blackHole(sink)
            return [BenchResult(name: "pseudonymize.single_core", value: Double(ids.count) / seconds, unit: "pseudonyms/s")]
        },
        Benchmark(name: "escrow") {
            let escrow = EscrowSecretKey.generate()
            let pseudonymizer = Pseudonymizer(master: SecretBytes(randomCount: 32), epoch: 1, context: .user)
            let ids = (0..<200_000).map { "customer-\($0)@shop.example" }
            let pids = ids.map { pseudonymizer.pseudonym(for: $0) }
            var sink = 0
            // A sealer is created once per process (one public-key operation), so it is part of the cost.
            let seconds = Stopwatch.bestSeconds(repetitions: 3) {
                let sealer = EscrowSealer(publicKey: escrow.publicKey)
                for (id, pid) in zip(ids, pids) { sink &+= sealer.seal(id, for: pid).ciphertext.count }
            }
            blackHole(sink)
            return [BenchResult(name: "escrow.amortised_per_new_id", value: seconds / Double(ids.count) * 1e6, unit: "us")]
        },
    ]
}
