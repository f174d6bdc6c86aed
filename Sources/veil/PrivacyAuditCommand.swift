import ArgumentParser
import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilLedger
import VeilModels
import VeilPolicy
import VeilPrivacy
import VeilSynth

/// `veil privacy audit`: the one-run empirical privacy audit of a training task, on generated shoppers
/// (free) or on stored users (`--stored`, a paid run like `veil train`).
struct PrivacyAuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit DP-SGD empirically: a lower bound on ε from one training run with canaries (free on generated shoppers, paid with --stored).",
        discussion: """
            The one-run audit of Steinke, Nasr & Jagielski (NeurIPS 2023): --canaries canaries, each drawn into the run with probability ½, one DP-SGD run of --task exactly as `veil train` runs it (the policy's epochs, batch size, clipping norm and optimiser; q = batch / n and the steps from n; σ calibrated as `veil train` calibrates it: to --epsilon less the private evaluation's share, the policy's training.evaluation_share), the 20 % of canaries with the highest scores guessed in and the 20 % with the lowest guessed out, and a lower bound on ε at 95 % confidence from the number of right guesses, printed beside the ε the accountant claims for the DP-SGD steps alone (what the canaries can reveal). White-box: each canary's gradient is a fixed vector along its own coordinate, 100 times the clipping norm (so a correct run clips it), and its score is that coordinate of every step's noisy gradient, summed.

            A correct run gives a bound at most the claim (at 95 % confidence; typically far below it, see docs/privacy.md). A bound above the claim means this DP-SGD is not as private as its accounting says: the command then exits with status 3.

            By default the data are --users generated shoppers (the synthetic model of docs/synthetic-data.md; n = users plus canaries): the audit reads no stored event and spends nothing. With --stored it runs on the stored users as `veil train` would (n = the registered users, the default cutoff and horizon): --canaries of the training users, drawn at random, become the canaries; the DP-SGD steps are reserved from the budget before any event is read (refused over a cap, with nothing read), recorded as one budget.spend and a privacy.audit record naming it, and never refunded. --explain (with --stored) prints σ, q, steps and what the audit would be charged, then stops: it reads no event and spends nothing. --keys, --data-dir, --database-url and --as apply to --stored only.

            Examples:
              veil privacy audit --task purchase --epsilon 4 --seed 1
              veil privacy audit --task churn --epsilon 2 --canaries 5000 --delta 1e-6 --json
              veil privacy audit --task purchase --epsilon 2 --stored --explain
              veil privacy audit --task purchase --epsilon 2 --stored --canaries 1000
            """
    )

    @Option(help: ArgumentHelp("purchase, churn or next_category.", valueName: "task"))
    var task: PredictionTask
    @Option(help: ArgumentHelp("The ε of the run (> 0): σ is calibrated to it as `veil train` does.", valueName: "epsilon"))
    var epsilon: Double
    @Option(help: ArgumentHelp("Canaries, each drawn in with probability ½ (100 … 1000000; with --stored, fewer than the users).", valueName: "m"))
    var canaries = 2_000
    @Option(help: ArgumentHelp("δ of the claim, in (0, policy budget.delta]; default the policy's δ.", valueName: "delta"))
    var delta: Double?
    @Option(help: ArgumentHelp("Generated shoppers trained on besides the canaries (100 … 1000000; default 5000; not with --stored).", valueName: "n"))
    var users: Int?
    @Option(help: ArgumentHelp("Seed the shoppers and every generator of the run (reproducible audit; the noise is predictable).", valueName: "n"))
    var seed: UInt64?
    @Option(help: ArgumentHelp(
        "The accountant σ is calibrated with: pld or rdp (default: the policy's privacy.accountant; not with --stored, which the ledger charges with the policy's).",
        valueName: "name"))
    var accountant: AccountantKind?
    @Flag(help: "Audit on the stored users: a paid run, reserved from the budget before any event is read.")
    var stored = false
    @Flag(help: "With --stored: print σ, q, steps and the ε the audit would be charged, then stop (reads no event, spends nothing).")
    var explain = false
    @OptionGroup var service: ServiceOptions
    @OptionGroup var output: OutputOptions

    /// Days of generated history and the label horizon after the cutoff.
    static let days = 120
    static let horizonDays = 14
    static let defaultUsers = 5_000

    func validate() throws {
        guard epsilon.isFinite && epsilon > 0 else { throw ValidationError("--epsilon must be a finite number > 0") }
        guard (100...1_000_000).contains(canaries) else { throw ValidationError("--canaries must be between 100 and 1000000") }
        if let users, !(100...1_000_000).contains(users) { throw ValidationError("--users must be between 100 and 1000000") }
        if stored {
            if users != nil { throw ValidationError("--users generates shoppers; --stored audits the stored users instead") }
            if accountant != nil {
                throw ValidationError("--accountant cannot be used with --stored: the paid run is calibrated with the policy's privacy.accountant, which the ledger charges with")
            }
        } else if explain {
            throw ValidationError("--explain explains a paid audit; use it with --stored (an audit on generated shoppers spends nothing)")
        }
    }

    func run() async throws {
        if stored { return try await runStored() }
        let policy = try loadPolicy()
        let users = self.users ?? Self.defaultUsers
        let seed = self.seed ?? UInt64.random(in: 0...UInt64.max)
        let shoppers = SyntheticShoppers(SynthConfiguration(users: users, days: Self.days, seed: seed))
        let cutoffDay = Self.days - Self.horizonDays
        let cutoff = Int64(shoppers.configuration.start.adding(days: cutoffDay).daysSinceEpoch) * FeatureWindow.millisPerDay
        var plan = try TrainingRequest(
            task: task, epsilon: epsilon, delta: delta, cutoffMillis: cutoff, horizonDays: Self.horizonDays, seed: self.seed
        ).validate(policy: policy, latestEventMillis: nil, now: .distantFuture)
        if let accountant { plan.accountant = accountant }
        let schema = FeatureSchema(policy: policy)
        guard plan.task.definition.classCount(schema: schema) >= 2 else {
            throw VeilError(.invalidInput, field: "task", "\(plan.task) needs at least 2 classes (categories in the policy)")
        }
        let examples = try Self.examples(of: shoppers, window: plan.window, schema: schema)
        guard let train = try TrainingPipeline.dataset(examples, task: plan.task, schema: schema) else {
            throw VeilError(.invalidInput, field: "users", "the generated shoppers have no labelled example; use more --users")
        }
        let line = ProgressLine(total: plan.epochs, label: "epochs")
        let report = try TaskPrivacyAudit.run(
            plan: plan, train: train, schema: schema, settings: OneRunAuditSettings(canaries: canaries, delta: plan.delta)
        ) { line.update($0.epoch) }
        line.finish()
        try finish(report, data: .generated(users: users, seed: seed))
    }

    /// `--stored`: the paid audit on the stored users (or, with `--explain`, what it would cost).
    private func runStored() async throws {
        let request = TrainingRequest(task: task, epsilon: epsilon, delta: delta, seed: seed)
        if explain {
            let explanation = try await service.withContext { context in
                try await context.privacyAuditService().explain(request, canaries: canaries)
            }
            if output.json { return try Output.json(explanation) }
            try PrivacyText.print(explanation.run, json: false)
            Swift.print(
                "audit      \(explanation.canaries) canaries among \(explanation.population) registered users; charged the DP-SGD steps alone "
                    + "(no evaluation is released): ε = \(String(format: "%.4f", explanation.chargedEpsilon)) at σ = \(String(format: "%.6g", explanation.noiseMultiplier))")
            return
        }
        let display = TrainingDisplay(enabled: isatty(2) == 1)
        let (report, spend) = try await service.withContext { context in
            try await context.privacyAuditService().run(
                request, canaries: canaries, principal: service.principal, progress: display.show)
        }
        try finish(report, data: .stored(spend))
    }

    /// Where the audited examples came from.
    enum AuditedData {
        case generated(users: Int, seed: UInt64)
        case stored(BudgetReceipt)
    }

    /// Prints the report and exits with status 3 when the bound exceeds the claim.
    private func finish(_ report: TaskPrivacyAudit.Report, data: AuditedData) throws {
        let exceeds = report.audit.epsilonLowerBound > report.claimedEpsilon
        if output.json {
            try Output.json(AuditOutput(data: data, exceedsClaim: exceeds, report: report))
        } else {
            Self.print(report, data: data, exceeds: exceeds)
        }
        if exceeds { throw ExitCode(3) }
    }

    /// The policy named by `--policy` or `VEIL_POLICY` (must load), else the default path when the file is
    /// there, else the built-in defaults.
    private func loadPolicy() throws -> Policy {
        let policy = service.policy
        let path = policy.policyPath
        if policy.explicitPath == nil && !FileManager.default.fileExists(atPath: path) { return Policy() }
        return try PolicyLoader.load(path: path).policy
    }

    /// One example per generated shopper with an event in `window`, in user order.
    static func examples(of shoppers: SyntheticShoppers, window: FeatureWindow, schema: FeatureSchema) throws -> [UserExample] {
        // A fixed key: the pseudonyms of generated shoppers protect no one.
        let master = SecretBytes(copying: BLAKE2b.hash256(Array("veil-privacy-audit".utf8)))
        let users = Pseudonymizer(master: master, epoch: 1, context: .user)
        let sessions = Pseudonymizer(master: master, epoch: 1, context: .session)
        let extractor = FeatureExtractor(schema: schema, window: window)
        return try (0..<shoppers.configuration.users).compactMap { index in
            extractor.example(for: try shoppers.storedEvents(ofUser: index, users: users, sessions: sessions))
        }
    }

    static func print(_ report: TaskPrivacyAudit.Report, data: AuditedData, exceeds: Bool) {
        let audit = report.audit
        let accountant = report.accountant.kind.rawValue.uppercased()
        func number(_ value: Double) -> String { String(format: "%.4f", value) }
        switch data {
        case let .generated(users, _):
            Swift.print("audit      \(report.task), \(users) generated shoppers (\(report.examples ?? 0) with a label); nothing spent")
        case let .stored(spend):
            Swift.print(
                "audit      \(report.task), stored users; spend \(spend.spendID): ε = \(number(spend.epsilon)) at δ = \(spend.delta) "
                    + "(the DP-SGD steps), \(number(spend.remainingEpsilon)) left")
        }
        Swift.print(
            "run        q = \(String(format: "%.6g", audit.samplingRate))   steps = \(audit.steps)   "
                + "σ = \(String(format: "%.6g", audit.noiseMultiplier))   C = \(report.clippingNorm)   batch = \(report.batchSize)")
        Swift.print(
            "split      as veil train: \(Int((report.evaluationShare * 100).rounded())) % of the run's ρ to the private evaluation "
                + "(σ_eval = \(String(format: "%.4g", report.evaluationNoiseSigma)), not run here), the rest to the steps; "
                + "run ε = \(number(report.runEpsilon)) of \(report.requestedEpsilon)")
        Swift.print("canaries   \(audit.canaries) (\(audit.includedCanaries) drawn in), white-box Dirac gradient canaries")
        Swift.print(
            "guesses    \(audit.correctIn)/\(audit.guessesIn) in and \(audit.correctOut)/\(audit.guessesOut) out right "
                + "(\(audit.correctGuesses)/\(audit.guesses))")
        Swift.print("ε claimed  \(number(report.claimedEpsilon))   (the DP-SGD steps alone, \(accountant) accountant, δ = \(audit.delta))")
        Swift.print("ε audited  \(number(audit.epsilonLowerBound))   (lower bound, \(Int(audit.confidence * 100)) % confidence)")
        Swift.print(
            exceeds
                ? "verdict    the lower bound EXCEEDS the claim: this DP-SGD run is not as private as its accounting says"
                : "verdict    consistent with the claim (a lower bound at most the claim proves no guarantee; see docs/privacy.md)")
    }
}

/// `privacy audit --json`: `data` is `generated` (with `generated_users` and `seed`; `spent_epsilon` 0)
/// or `stored` (with `spend_id` and `spent_epsilon`, the spend's ε at the policy's δ).
struct AuditOutput: Encodable {
    let data: String
    let generatedUsers: Int?
    let seed: UInt64?
    let spendID: Int64?
    let spentEpsilon: Double
    let exceedsClaim: Bool
    let report: TaskPrivacyAudit.Report

    init(data: PrivacyAuditCommand.AuditedData, exceedsClaim: Bool, report: TaskPrivacyAudit.Report) {
        switch data {
        case let .generated(users, seed):
            (self.data, generatedUsers, self.seed, spendID, spentEpsilon) = ("generated", users, seed, nil, 0)
        case let .stored(spend):
            (self.data, generatedUsers, seed, spendID, spentEpsilon) = ("stored", nil, nil, spend.spendID, spend.epsilon)
        }
        self.exceedsClaim = exceedsClaim
        self.report = report
    }

    enum CodingKeys: String, CodingKey {
        case data, seed, report
        case generatedUsers = "generated_users"
        case spendID = "spend_id"
        case spentEpsilon = "spent_epsilon"
        case exceedsClaim = "exceeds_claim"
    }
}
