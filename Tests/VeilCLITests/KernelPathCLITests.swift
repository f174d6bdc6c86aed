import Foundation
import Testing

/// A seeded training run trains the same model, bit for bit, whichever compiled kernels run it: the
/// baseline (SSE2), AVX2 and AVX-512 instances of the products and of the GRU's gate steps compute the
/// same IEEE operations in the same order (`docs/models.md`), and nothing else in a run may depend on
/// the path. Checked end to end through the real binary: one installation copied three times, the same
/// `veil train --seed` in each under `VEIL_KERNELS=baseline`, `VEIL_KERNELS=wide` and no cap (the
/// newest path the CPU runs), and the model IDs — a hash of the artifact, whose parameters are the
/// trained `Double`s — compared. (On a CPU without AVX2 or AVX-512 some of the three runs take the
/// same path, and the test checks less.)
@Suite(.serialized) struct KernelPathCLITests {
    @Test(arguments: ["gru", "cnn"])
    func aSeededRunTrainsTheSameModelOnEveryPath(model: String) throws {
        let (installation, _) = try RecommendCLITests.installation()
        var modelIDs: [String: String] = [:]
        for cap in ["baseline", "wide", "none"] {
            let copy = try installation.copy()
            var environment = copy.environment
            if cap != "none" { environment["VEIL_KERNELS"] = cap }
            let trained = try VeilProcess.run(
                [
                    "train", "--task", "next_item", "--model", model, "--hidden", "16", "--embedding", "8",
                    "--sequence-length", "20", "--epsilon", "3", "--seed", "5", "--json",
                ],
                in: copy.root, environment: environment)
            try #require(trained.status == 0, "\(cap): \(trained.stderr)")
            let card = try #require(try JSONSerialization.jsonObject(with: Data(trained.stdout.utf8)) as? [String: Any])
            modelIDs[cap] = try #require(card["model_id"] as? String)
        }
        #expect(Set(modelIDs.values).count == 1, "\(model): \(modelIDs)")
    }
}
