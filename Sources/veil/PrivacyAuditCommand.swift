import ArgumentParser
import Foundation
import VeilCore
import VeilCrypto
import VeilLearning
import VeilModels
import VeilPolicy
import VeilPrivacy
import VeilSynth

/// `veil privacy audit`: the one-run empirical privacy audit of a training task on generated shoppers.
struct PrivacyAuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit DP-SGD empirically: a lower bound on ε from one training run with canaries (spends nothing).",
        discussion: """
            The one-run audit of Steinke, Nasr & Jagielski (NeurIPS 2023): --canaries canaries, each drawn into the run with probability ½, one DP-SGD run of --task exactly as `veil train` runs it (the policy's epochs, batch size, clipping norm and optimiser; q and steps from the users plus every canary; σ calibrated to --epsilon with the accountant), the 20 % of canaries with the highest scores guessed in and the 20 % with the lowest guessed out, and a lower bound on ε at 95 % confidence from the number of right guesses, printed beside the ε the accountant claims. White-box: each canary's gradient is a fixed vector along its own coordinate, 100 times the clipping norm (so a correct run clips it), and its score is that coordinate of every step's noisy gradient, summed.

            A correct run gives a bound at most the claim (at 95 % confidence; typically far below it, see docs/privacy.md). A bound above the claim means this DP-SGD is not as private as its accounting says: the command then exits with status 3.

            The data are --users generated shoppers (the synthetic model of docs/synthetic-data.md), not stored events: the audit reads nothing and spends no budget. Auditing on stored data (a paid run) is not implemented yet.

            Examples:
              veil privacy audit --task purchase --epsilon 4 --seed 1
              veil privacy audit --task churn --epsilon 2 --canaries 5000 --delta 1e-6 --json
            """
    )

    @Option(help: ArgumentHelp("purchase, churn or next_category.", valueName: "task"))
    var task: PredictionTask
    @Option(help: ArgumentHelp("The ε the run claims: σ is calibrated to it (> 0).", valueName: "epsilon"))
    var epsilon: Double
    @Option(help: ArgumentHelp("Canaries, each drawn in with probability ½ (100 … 1000000).", valueName: "m"))
    var canaries = 2_000
    @Option(help: ArgumentHelp("δ of the claim, in (0, policy budget.delta]; default the policy's δ.", valueName: "delta"))
    var delta: Double?
    @Option(help: ArgumentHelp("Generated shoppers trained on besides the canaries (100 … 1000000).", valueName: "n"))
    var users = 5_000
    @Option(help: ArgumentHelp("Seed the shoppers and every generator of the run (reproducible audit).", valueName: "n"))
    var seed: UInt64?
    @Option(help: ArgumentHelp(
        "The accountant σ is calibrated with: pld or rdp (default: the policy's privacy.accountant).", valueName: "name"))
    var accountant: AccountantKind?
    @OptionGroup var policy: PolicyOptions
    @OptionGroup var output: OutputOptions

    /// Days of generated history and the label horizon after the cutoff.
    static let days = 120
    static let horizonDays = 14

    func validate() throws {
        guard epsilon.isFinite && epsilon > 0 else { throw ValidationError("--epsilon must be a finite number > 0") }
        guard (100...1_000_000).contains(canaries) else { throw ValidationError("--canaries must be between 100 and 1000000") }
        guard (100...1_000_000).contains(users) else { throw ValidationError("--users must be between 100 and 1000000") }
    }

    func run() async throws {
        let policy = try loadPolicy()
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
        let exceeds = report.audit.epsilonLowerBound > report.claimedEpsilon
        if output.json {
            try Output.json(AuditOutput(generatedUsers: users, seed: seed, exceedsClaim: exceeds, report: report))
        } else {
            Self.print(report, users: users, exceeds: exceeds)
        }
        if exceeds { throw ExitCode(3) }
    }

    /// The policy named by `--policy` or `VEIL_POLICY` (must load), else the default path when the file is
    /// there, else the built-in defaults.
    private func loadPolicy() throws -> Policy {
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

    static func print(_ report: TaskPrivacyAudit.Report, users: Int, exceeds: Bool) {
        let audit = report.audit
        let accountant = report.accountant.kind.rawValue.uppercased()
        func number(_ value: Double) -> String { String(format: "%.4f", value) }
        Swift.print("audit      \(report.task), \(users) generated shoppers (\(report.examples) with a label); nothing spent")
        Swift.print(
            "run        q = \(String(format: "%.6g", audit.samplingRate))   steps = \(audit.steps)   "
                + "σ = \(String(format: "%.6g", audit.noiseMultiplier))   C = \(report.clippingNorm)   batch = \(report.batchSize)")
        Swift.print("canaries   \(audit.canaries) (\(audit.includedCanaries) drawn in), white-box Dirac gradient canaries")
        Swift.print(
            "guesses    \(audit.correctIn)/\(audit.guessesIn) in and \(audit.correctOut)/\(audit.guessesOut) out right "
                + "(\(audit.correctGuesses)/\(audit.guesses))")
        Swift.print("ε claimed  \(number(report.claimedEpsilon))   (\(accountant) accountant, δ = \(audit.delta))")
        Swift.print("ε audited  \(number(audit.epsilonLowerBound))   (lower bound, \(Int(audit.confidence * 100)) % confidence)")
        Swift.print(
            exceeds
                ? "verdict    the lower bound EXCEEDS the claim: this DP-SGD run is not as private as its accounting says"
                : "verdict    consistent with the claim (a lower bound at most the claim proves no guarantee; see docs/privacy.md)")
    }
}

/// `privacy audit --json`.
struct AuditOutput: Encodable {
    let data = "generated"
    let generatedUsers: Int
    let seed: UInt64
    let spentEpsilon = 0.0
    let exceedsClaim: Bool
    let report: TaskPrivacyAudit.Report

    enum CodingKeys: String, CodingKey {
        case data, seed, report
        case generatedUsers = "generated_users"
        case spentEpsilon = "spent_epsilon"
        case exceedsClaim = "exceeds_claim"
    }
}
