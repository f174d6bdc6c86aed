import Foundation
import Testing
import VeilCore
import VeilPrivacy
import VeilStore
import VeilTestSupport
@testable import VeilLedger

@Suite struct BudgetServiceTests {
    private static func service(_ policy: Policy, clock: WallClock = .system) throws -> BudgetService {
        let stores = try ScratchStores.open()
        return BudgetService(policy: policy, store: stores.ledger, audit: stores.audit, clock: clock)
    }

    private static func policy(total: Double = 10, perRequest: Double = 4) -> Policy {
        var policy = Policy()
        policy.budget.totalEpsilon = total
        policy.budget.maxEpsilonPerRequest = perRequest
        policy.budget.delta = 1e-6
        return policy
    }

    private static let release = PrivacyMechanism.gaussian(noiseMultiplier: 2, count: 1)

    private static func request(_ principal: String = "cli", role: Role = .analyst) -> BudgetRequest {
        BudgetRequest(principal: principal, role: role, purpose: "test release", mechanism: release)
    }

    /// A spend is stamped by the service's clock, not by whatever time the host has.
    @Test func spendsAreStampedByTheInjectedClock() async throws {
        let at = Date(timeIntervalSince1970: 1_795_435_200)  // 2026-11-23T12:00:00Z
        let service = try Self.service(Self.policy(), clock: .fixed(at))
        try await service.reserve(Self.request())
        #expect(try await service.status().spends.map(\.time) == ["2026-11-23T12:00:00Z"])
    }

    /// Fifty requests race for a cap that affords only some of them. The affordable number k is computed
    /// independently by composing copies with the accountant; exactly k must succeed and the total must
    /// never pass the cap.
    @Test func concurrentRequestsNeverPassTheCap() async throws {
        let policy = Self.policy()
        var k = 0
        while RDPAccountant.epsilon(composing: Array(repeating: Self.release, count: k + 1), delta: 1e-6).epsilon <= 10 { k += 1 }
        #expect(k > 1 && k < 50)

        let service = try Self.service(policy)
        let succeeded = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<50 {
                group.addTask {
                    do {
                        try await service.reserve(Self.request("principal-\(index % 5)"))
                        return true
                    } catch let error as VeilError where error.code == .budgetExceeded {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(succeeded == k)
        let status = try await service.status()
        #expect(status.spends.count == k)
        #expect(status.spentEpsilon <= 10)
        #expect(status.spends.map(\.cumulativeEpsilon) == status.spends.map(\.cumulativeEpsilon).sorted())
    }

    @Test func refusalNamesTheCapAndWhatRemains() async throws {
        let service = try Self.service(Self.policy(total: 10, perRequest: 1))
        do {
            try await service.reserve(Self.request())
            Issue.record("a request above the per-request cap must be refused")
        } catch let error as VeilError {
            #expect(error.code == .budgetExceeded)
            #expect(error.field == "budget.max_epsilon_per_request")
            #expect(error.message.contains("remaining"))
            #expect(error.message.contains("Nothing was spent"))
        }
        #expect(try await service.status().spends.isEmpty)
    }

    @Test func principalCapStopsOnePrincipalButNotAnother() async throws {
        var policy = Self.policy()
        let single = RDPAccountant.epsilon(composing: [Self.release], delta: 1e-6).epsilon
        // Two releases compose to about 1.46× one (RDP is sublinear), so 1.2× affords exactly one.
        policy.budget.perPrincipal = ["alice-token": single * 1.2]
        let service = try Self.service(policy)
        try await service.reserve(Self.request("alice-token"))
        await #expect(throws: VeilError.self) { try await service.reserve(Self.request("alice-token")) }
        try await service.reserve(Self.request("bob-token"))
        let status = try await service.status()
        #expect(status.principals.map(\.principal) == ["alice-token", "bob-token"])
        #expect(status.principals[0].capEpsilon == single * 1.2)
    }

    /// Each spend carries its principal's composed ε so far (the by-principal chart): the composition of
    /// that principal's spends up to it, by the policy's accountant — not the dataset's, and not a sum.
    @Test func eachSpendCarriesItsPrincipalsComposedEpsilonSoFar() async throws {
        var policy = Self.policy()
        policy.privacy.accountant = .rdp
        let service = try Self.service(policy)
        for principal in ["alice-token", "bob-token", "alice-token"] { try await service.reserve(Self.request(principal)) }
        let status = try await service.status()
        let one = RDPAccountant.epsilon(composing: [Self.release], delta: 1e-6).epsilon
        let two = RDPAccountant.epsilon(composing: [Self.release, Self.release], delta: 1e-6).epsilon
        #expect(status.spends.map(\.principalCumulativeEpsilon) == [one, one, two])
        #expect(two < 2 * one && status.spends[2].cumulativeEpsilon > two)
        #expect(status.principals.map(\.spentEpsilon) == [two, one])
    }

    @Test func invalidMechanismIsInvalidInputNotASpend() async throws {
        let service = try Self.service(Self.policy())
        let bad = BudgetRequest(principal: "cli", role: .analyst, purpose: "bad", mechanism: .gaussian(noiseMultiplier: -1, count: 1))
        do {
            try await service.reserve(bad)
            Issue.record("must fail")
        } catch let error as VeilError {
            #expect(error.code == .invalidInput)
            #expect(error.field == "mechanism.noise_multiplier")
        }
        #expect(try await service.status().spends.isEmpty)
    }
}
