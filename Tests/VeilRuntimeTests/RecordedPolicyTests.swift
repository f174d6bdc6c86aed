import Foundation
import Testing
import VeilCore
import VeilPolicy
import VeilRuntime

/// The ledger's caps come from the policy recorded with it (`policy.load`): a process still running an
/// older policy file — a `veil serve` left running, a replica not yet restarted — refuses to spend
/// once another process recorded a different policy, naming both hashes.
@Suite struct RecordedPolicyTests {
    @Test func aProcessWhosePolicyIsNotTheRecordedOneRefusesToSpendNamingBothHashes() async throws {
        let deployment = try Deployment()
        let first = try await deployment.open(total: 1)
        #expect(try await Deployment.spend(0.1, in: first))

        let wider = LoadedPolicy(policy: Deployment.policy(total: 5).policy, hash: String(repeating: "b", count: 64), path: "wider.yaml")
        let second = try await VeilContext.open(keysDirectory: deployment.keys, dataDirectory: deployment.data, policy: wider, actor: "test")
        #expect(try await Deployment.spend(0.1, in: second))

        let error = await #expect(throws: VeilError.self) { try await Deployment.spend(0.1, in: first) }
        #expect(error?.code == .conflict)
        let message = error.map { "\($0)" } ?? ""
        #expect(message.contains(String(repeating: "a", count: 64)) && message.contains(wider.hash), "\(message)")
        #expect(try await first.budget.status().spends.count == 2, "the refused spend stored nothing")
        #expect(try await Deployment.verify(second).isValid)
        await first.close()
        await second.close()
    }
}
