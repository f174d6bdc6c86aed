import Foundation
import Testing
import VeilAudit
import VeilCore
import VeilLedger
import VeilLearning
import VeilPrivacy
import VeilTestSupport
@testable import VeilModels

/// The audit on stored users is a paid run like training: reserved before any event is read, one
/// ledger spend and its `budget.spend` record, a `privacy.audit` record naming it, refused over a cap.
@Suite struct PrivacyAuditServiceTests {
    private static func request(epsilon: Double = 2, seed: UInt64? = 5) -> TrainingRequest {
        TrainingFixture.request(epsilon: epsilon, seed: seed)
    }

    /// A number in a record's details (a whole number reads back as an integer).
    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .double(let number)?: number
        case .int(let number)?: Double(number)
        default: nil
        }
    }

    @Test func anAuditOnStoredUsersIsOneVerifiedSpendAndRecord() async throws {
        let fixture = try await TrainingFixture()
        let context = fixture.context
        let service = context.privacyAuditService()
        // What --explain promises is what is run and charged.
        let explanation = try await service.explain(Self.request(), canaries: 100)
        let (report, spend) = try await service.run(Self.request(), canaries: 100, principal: "ann")

        // σ is the one `veil train` calibrates for the same request (the evaluation share taken out).
        let plan = try await fixture.trainer.check(Self.request())
        let trainingSigma = try await fixture.trainer.explain(Self.request()).noiseMultiplier
        #expect(report.audit.noiseMultiplier == trainingSigma)
        #expect(explanation.noiseMultiplier == trainingSigma)
        #expect(report.evaluationShare == plan.evaluationShare && plan.evaluationShare == 0.05)
        #expect(report.claimedEpsilon < report.runEpsilon && report.runEpsilon <= 2)
        #expect(report.examples == nil)
        #expect(report.audit.canaries == 100)

        // One spend: the DP-SGD steps alone, at the run's q, σ and steps, and what --explain said.
        let spends = try await context.budget.status().spends
        #expect(spends.count == 1)
        let expected = PrivacyMechanism.subsampledGaussian(
            samplingRate: report.audit.samplingRate, noiseMultiplier: report.audit.noiseMultiplier, steps: report.audit.steps)
        #expect(spends.first?.mechanism == expected)
        #expect(spends.first?.principal == "ann")
        #expect(spend.epsilon == explanation.chargedEpsilon)
        #expect(abs(spend.epsilon - report.claimedEpsilon) < 1e-12)

        // The chain: the spend, then the audit record naming it; the whole log verifies.
        let bodies = try await context.stores.chainBodies()
        let actions = bodies.map(\.action).filter { $0 == "budget.spend" || $0 == "privacy.audit" }
        #expect(actions == ["budget.spend", "privacy.audit"])
        let record = try #require(bodies.last { $0.action == AuditAction.privacyAudit.rawValue })
        #expect(record.actor == "ann")
        #expect(record.details["spend_id"] == .int(spend.spendID))
        #expect(Self.number(record.details["epsilon_lower_bound"]) == report.audit.epsilonLowerBound)
        #expect(Self.number(record.details["noise_multiplier"]) == report.audit.noiseMultiplier)
        let verification = AuditVerifier.verify(
            lines: try await context.stores.chainLines(), publicKey: context.keys.auditSigningKey.publicKey, checkpoint: nil,
            recomputeEpsilon: AuditAccountant.recomputation())
        #expect(verification.failure == nil)
        #expect(verification.epsilon.spendsChecked == 1)
        // No raw user ID in anything the audit wrote.
        let lines = try await context.stores.chainLines().joined(separator: "\n")
        #expect(!fixture.userIDs.contains { lines.contains("\"\($0)\"") })
    }

    @Test func aRefusedAuditReadsAndSpendsNothing() async throws {
        let fixture = try await TrainingFixture(totalEpsilon: 1)
        let counting = CountingStore(fixture.context.stores)
        let context = fixture.context
        let trainer = fixture.trainer(readingThrough: counting)
        let service = PrivacyAuditService(trainer: trainer, audit: context.stores.audit)
        do {
            _ = try await service.run(Self.request(epsilon: 2), canaries: 100, principal: "cli")
            Issue.record("an audit over the cap must be refused")
        } catch let error as VeilError {
            #expect(error.code == .budgetExceeded)
        }
        #expect(counting.eventReads == 0)
        #expect(try await context.budget.status().spends.isEmpty)
        let actions = try await context.stores.chainActions()
        #expect(actions.contains("budget.refuse") && !actions.contains("privacy.audit") && !actions.contains("budget.spend"))
        // Control: an affordable audit through the same wrapper reads and spends.
        _ = try await service.run(Self.request(epsilon: 0.9), canaries: 100, principal: "cli")
        #expect(counting.eventReads > 0)
        #expect(try await context.budget.status().spends.count == 1)
    }

    @Test func requestsTheAuditCannotRunAreRefusedBeforeSpending() async throws {
        let fixture = try await TrainingFixture()
        let service = fixture.context.privacyAuditService()
        func field(_ request: TrainingRequest, canaries: Int = 100) async -> String? {
            do {
                _ = try await service.run(request, canaries: canaries, principal: "cli")
                return nil
            } catch let error as VeilError {
                return error.field
            } catch {
                return "\(error)"
            }
        }
        #expect(await field(Self.request(), canaries: 5) == "canaries")
        #expect(await field(Self.request(), canaries: 100_000) == "canaries")
        #expect(await field(TrainingFixture.request(epsilon: nil, nonPrivate: true)) == "epsilon")
        var sequence = Self.request()
        sequence.model = .gru
        #expect(await field(sequence) == "model")
        #expect(try await fixture.context.budget.status().spends.isEmpty)
    }
}
