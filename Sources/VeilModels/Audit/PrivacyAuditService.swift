import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilLedger
import VeilPolicy
import VeilPrivacy

/// The empirical privacy audit on stored users (`veil privacy audit --stored`): a paid run like
/// training. validate → count users (metadata) → calibrate σ as `veil train` would → reserve the
/// budget → read the events → split → draw canaries among the training users → one DP-SGD run
/// (`TaskPrivacyAudit`) → audit.
///
/// Contract:
/// - The run is the one `veil train` would make of the same request: the plan's model, epochs, batch
///   size, clipping norm and optimiser; q = B/n and steps from n, the registered users (metadata, as
///   in training); σ calibrated to the request's ε less the policy's evaluation share
///   (`TrainingPipeline.privateRunCost`). Only feature-row models (`logistic`, `mlp`) are audited.
/// - `settings.canaries` of the training-split users, drawn at random (seeded when the plan is),
///   become Dirac gradient canaries (`OneRunAudit`): their own examples are not trained on, each canary
///   is drawn in with probability ½, and n stays the registered users, so q, steps and σ are exactly
///   the paid ones.
/// - No event is read before the budget is reserved. What is charged is what runs: the DP-SGD steps
///   (`subsampled_gaussian`; no evaluation is released), one spend with its `budget.spend` record. A
///   refused reservation (`.budgetExceeded`) stops the audit with nothing read or trained; a
///   reservation is never refunded, even if the audit fails later.
/// - A finished audit writes one `privacy.audit` record naming the spend (`spend_id`), the run's public
///   parameters and the result; never a count of users read. The report leaves out the number of
///   examples trained on for the same reason.
public struct PrivacyAuditService: Sendable {
    private let trainer: TrainingService
    private let audit: any AuditRecording

    /// `trainer` supplies the policy, the stores, the split key and the budget; `audit` records the
    /// finished audit.
    public init(trainer: TrainingService, audit: any AuditRecording) {
        self.trainer = trainer
        self.audit = audit
    }

    /// What an audit of `request` costs and runs with, from metadata only (nothing read or spent): the
    /// run as `veil train --explain` shows it (σ calibrated with the evaluation share), and the ε the
    /// audit is charged — the steps alone.
    public func explain(_ request: TrainingRequest, canaries: Int) async throws -> Explanation {
        let (plan, cost, population) = try await prepare(request, canaries: canaries)
        return Explanation(
            run: try await trainer.explain(request), chargedEpsilon: cost.epsilon, noiseMultiplier: cost.noiseMultiplier,
            population: population, canaries: canaries, evaluationShare: plan.evaluationShare)
    }

    /// Runs the audit for `principal` acting as `role`; returns its report and the receipt of the spend
    /// that paid for it.
    /// `progress` is called from the run as `TrainingService.train`'s.
    ///
    /// - Throws: as `TrainingService.check`; `invalidInput` for a non-private request, a sequence model,
    ///   settings out of range or more canaries than users (before anything is spent); `.budgetExceeded`
    ///   when the reservation is refused; after the reservation, `invalidInput` (field `canaries`) when
    ///   the training split holds no more users than canaries, and what training throws.
    public func run(
        _ request: TrainingRequest, canaries: Int, principal: String, role: Role = .trainer,
        progress: @escaping @Sendable (TrainingProgress) -> Void = { _ in }
    ) async throws -> (report: TaskPrivacyAudit.Report, spend: BudgetReceipt) {
        let (plan, cost, population) = try await prepare(request, canaries: canaries)
        let settings = OneRunAuditSettings(canaries: canaries, delta: plan.delta)
        let spend = try await trainer.budget.reserve(
            BudgetRequest(
                principal: principal, role: role,
                purpose: "privacy audit of \(plan.task.rawValue) DP-SGD (\(plan.model.rawValue)), \(canaries) canaries among stored users",
                mechanism: cost.mechanism))

        let schema = FeatureSchema(policy: trainer.policy.policy)
        let examples = try await TrainingPipeline.examples(
            from: trainer.events, extractor: FeatureExtractor(schema: schema, window: plan.window))
        let (trainUsers, _) = trainer.split(examples, pseudonym: \.pseudonym)
        guard trainUsers.count > canaries else {
            throw VeilError(
                .invalidInput, field: "canaries", "must be fewer than the users in the training split; use fewer --canaries")
        }
        var draw = plan.seed.map { ChaChaNoiseGenerator(seed: $0 &* 3 &+ 4) } ?? ChaChaNoiseGenerator()
        let canaryUsers = Set((0..<trainUsers.count).shuffled(using: &draw).prefix(canaries))
        let base = trainUsers.indices.filter { !canaryUsers.contains($0) }.map { trainUsers[$0] }
        guard let train = try TrainingPipeline.dataset(base, task: plan.task, schema: schema) else {
            throw TrainingService.emptySplit
        }
        let report = try TaskPrivacyAudit.run(
            plan: plan, train: train, schema: schema, settings: settings, population: population, progress: progress)
        guard report.audit.steps == cost.steps, report.audit.samplingRate == cost.samplingRate,
            report.audit.noiseMultiplier == cost.noiseMultiplier
        else { throw VeilError(.integrity, field: "steps", "the audit did not run the steps that were paid for") }
        try await audit.record(
            actor: principal, action: .privacyAudit,
            details: Self.details(report, plan: plan, population: population, spendID: spend.spendID, role: role, policyHash: trainer.policy.hash))
        return (report.withoutExampleCount(), spend)
    }

    /// What `veil privacy audit --stored --explain` prints.
    public struct Explanation: Sendable, Encodable {
        /// The run as `veil train --explain` explains it: its ε is the whole run's, steps and evaluation.
        public let run: DPSGDExplanation
        /// What the audit is charged: the DP-SGD steps alone, at the plan's δ.
        public let chargedEpsilon: Double
        public let noiseMultiplier: Double
        public let population: Int
        public let canaries: Int
        public let evaluationShare: Double

        enum CodingKeys: String, CodingKey {
            case run, population, canaries
            case chargedEpsilon = "charged_epsilon"
            case noiseMultiplier = "noise_multiplier"
            case evaluationShare = "evaluation_share"
        }
    }

    /// The paid run's cost: q, steps, σ, the mechanism charged and its ε.
    struct Cost {
        var samplingRate: Double
        var steps: Int
        var noiseMultiplier: Double
        var mechanism: PrivacyMechanism
        var epsilon: Double
    }

    /// Checks `request` and the canaries before anything is spent and calibrates the run.
    private func prepare(_ request: TrainingRequest, canaries: Int) async throws -> (TrainingPlan, Cost, Int) {
        let plan = try await trainer.check(request)
        guard plan.isPrivate, let target = plan.targetEpsilon else {
            throw VeilError(.invalidInput, field: "epsilon", "an audit needs a private run with a target ε")
        }
        guard plan.sequence == nil else {
            throw VeilError(.invalidInput, field: "model", "the audit runs feature-row models (logistic, mlp) only")
        }
        guard plan.task.definition.classCount(schema: FeatureSchema(policy: trainer.policy.policy)) >= 2 else {
            throw VeilError(.invalidInput, field: "task", "\(plan.task) needs at least 2 classes (categories in the policy)")
        }
        try OneRunAuditSettings(canaries: canaries, delta: plan.delta).validate()
        let population = try await trainer.population(for: plan)
        guard canaries < population else {
            throw VeilError(.invalidInput, field: "canaries", "must be fewer than the registered users (\(population))")
        }
        let (samplingRate, steps) = TrainingService.privateRun(plan, population: population)
        let method = AccountingMethod(plan.accountant)
        let run = try TrainingPipeline.privateRunCost(
            targetEpsilon: target, delta: plan.delta, samplingRate: samplingRate, steps: steps, method: method,
            evaluationShare: plan.evaluationShare)
        let sigma = run.calibration.noiseMultiplier
        let mechanism = PrivacyMechanism.subsampledGaussian(samplingRate: samplingRate, noiseMultiplier: sigma, steps: steps)
        let epsilon = PrivacyAccountant.epsilon(composing: [mechanism], delta: plan.delta, method: method)
        return (
            plan,
            Cost(samplingRate: samplingRate, steps: steps, noiseMultiplier: sigma, mechanism: mechanism, epsilon: epsilon),
            population
        )
    }

    private static func details(
        _ report: TaskPrivacyAudit.Report, plan: TrainingPlan, population: Int, spendID: Int64, role: Role, policyHash: String
    ) -> [String: JSONValue] {
        let result = report.audit
        return [
            "task": .string(plan.task.rawValue), "role": .string(role.rawValue), "kind": .string(plan.model.rawValue),
            "canaries": .int(Int64(result.canaries)), "included_canaries": .int(Int64(result.includedCanaries)),
            "guesses": .int(Int64(result.guesses)), "correct_guesses": .int(Int64(result.correctGuesses)),
            "epsilon_lower_bound": .double(result.epsilonLowerBound), "claimed_epsilon": .double(report.claimedEpsilon),
            "run_epsilon": .double(report.runEpsilon), "delta": .double(plan.delta),
            "sampling_rate": .double(result.samplingRate), "noise_multiplier": .double(result.noiseMultiplier),
            "steps": .int(Int64(result.steps)), "population": .int(Int64(population)), "epochs": .int(Int64(plan.epochs)),
            "expected_batch_size": .int(Int64(plan.batchSize)), "clipping_norm": .double(plan.clippingNorm),
            "evaluation_share": .double(plan.evaluationShare),
            "cutoff": .string(ModelFile.isoTime(millis: plan.window.cutoff)), "horizon_days": .int(Int64(plan.horizonDays)),
            "seeded": .bool(plan.seed != nil), "policy_hash": .string(policyHash), "spend_id": .int(spendID),
        ]
    }
}
