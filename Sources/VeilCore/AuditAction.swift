/// The name of an audited action, `area.verb` in lowercase. Every action Veil records is one of the
/// constants below (`docs/audit.md` lists each with its details); a name read from a log or given by a
/// test is checked with `init?(rawValue:)`. Use cases record through `AuditRecording`, which takes
/// this type, so no action name is spelled anywhere else.
public struct AuditAction: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// The action named `rawValue`, or nil when it is not of the form `word(.word)*` (see `isWellFormed`).
    public init?(rawValue: String) {
        guard Self.isWellFormed(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(_ name: StaticString) {
        rawValue = name.description
    }

    public var description: String { rawValue }

    /// The first record of a data directory's chain: the directory is bound to its key set. Details:
    /// `epoch`, both public keys, `master_fingerprint`.
    public static let keyInit = AuditAction("key.init")
    /// A data directory bound to its key set at an open (one made before the binding, or not started
    /// by `veil keys init`). Details: `master_fingerprint`, `audit_public_key`.
    public static let keyBind = AuditAction("key.bind")
    /// A policy with a new hash is in force. Details: `policy_hash`, `path`, `dataset`.
    public static let policyLoad = AuditAction("policy.load")
    /// A batch (or a whole import) committed. Details: counts only.
    public static let ingestBatch = AuditAction("ingest.batch")
    /// A data subject erased. Details: `pseudonym`, `epoch`, counts.
    public static let subjectErase = AuditAction("subject.erase")
    /// A pseudonym re-identified with the escrow secret. Details: `pseudonym`.
    public static let subjectReidentify = AuditAction("subject.reidentify")
    /// An API token issued. Details: `name`, `role`.
    public static let tokenIssue = AuditAction("token.issue")
    /// An API token revoked. Details: `name`.
    public static let tokenRevoke = AuditAction("token.revoke")
    /// A release paid from the privacy budget. Details: `dataset`, `mechanism` (object), `epsilon`,
    /// `delta`, `cumulative_epsilon` (the dataset's composed ε after this spend), and who/why fields.
    /// The verifier recomputes `cumulative_epsilon` from these records.
    public static let budgetSpend = AuditAction("budget.spend")
    /// A request refused because it would pass a cap; nothing was spent.
    public static let budgetRefuse = AuditAction("budget.refuse")
    /// A model trained and registered as a candidate. Details: its parameters, ε, δ, model id.
    public static let modelTrain = AuditAction("model.train")
    /// An empirical privacy audit run on stored users (`veil privacy audit --stored`), paid like a
    /// training run. Details: `task`, `spend_id` (its `budget.spend`), the run's `sampling_rate`,
    /// `noise_multiplier`, `steps`, `claimed_epsilon`, `canaries`, `guesses`, `correct_guesses` and
    /// `epsilon_lower_bound`.
    public static let privacyAudit = AuditAction("privacy.audit")
    /// A candidate approved for serving. Details: `model_id`, `task`, `note`.
    public static let modelApprove = AuditAction("model.approve")
    /// A candidate rejected. Details: `model_id`, `task`, `note`.
    public static let modelReject = AuditAction("model.reject")
    /// An approved model withdrawn: it never serves again. Details: `model_id`, `task`, `note`.
    public static let modelRevoke = AuditAction("model.revoke")
    /// Predictions an approved model served on one UTC day since the last count was written (written
    /// every minute by `veil serve`, at its shutdown, and by `veil predict`). Details: `model_id`, `task`,
    /// `day`, `count`; a day's total is the sum of its records.
    public static let modelPredictions = AuditAction("model.predictions")
    /// Every user scored with an approved model. Details: model id, counts.
    public static let modelScore = AuditAction("model.score")
    /// A DP aggregate query answered. Details: the plan and what it spent.
    public static let queryRun = AuditAction("query.run")
    /// The operator read the exact (not differentially private) event statistics. Details: `events`,
    /// `days` (how much was shown).
    public static let statsRead = AuditAction("stats.read")

    /// Every action Veil records, in the order `docs/audit.md` lists them (a test holds the two, and
    /// the constants above, to the same list).
    public static let all: [AuditAction] = [
        keyInit, keyBind, policyLoad, ingestBatch, subjectErase, subjectReidentify, tokenIssue, tokenRevoke, budgetSpend,
        budgetRefuse, modelTrain, privacyAudit, modelApprove, modelReject, modelRevoke, modelPredictions, modelScore, statsRead,
        queryRun,
    ]

    /// True for names of the form `word(.word)*`, words of lowercase letters, digits and `_`.
    public static func isWellFormed(_ name: String) -> Bool {
        let words = name.split(separator: ".", omittingEmptySubsequences: false)
        return !words.isEmpty
            && words.allSatisfy { word in
                guard let first = word.first, ("a"..."z").contains(first) else { return false }
                return word.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            }
    }
}
