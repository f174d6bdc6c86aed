import VeilCore

/// Checks that every private model's `model.train` record is linked to the `budget.spend` that paid
/// for it, from the log alone: the train record's `spend_id` names a spend recorded before it, by the
/// same actor, for the mechanism the run was accounted with, and no two train records name the same
/// spend. A non-private run spends nothing and names no spend.
///
/// The mechanism is the `composition` of the DP-SGD steps (`subsampled_gaussian` with the record's
/// `sampling_rate`, `noise_multiplier` and `steps`), the private evaluation (`discrete_gaussian`,
/// with the record's `evaluation_noise_sigma` as its `sigma` when the record states it) and, for a
/// sequence model whose item vocabulary was chosen by DP partition selection, a third part equal to the
/// record's `vocabulary_mechanism` — or, in runs from before private evaluation, the plain
/// `subsampled_gaussian`. (Sequence runs from before the composed spend paid their selection as a
/// query of its own, recorded by its own `query.run` record, and their training alone.)
///
/// `model.train` records written before Veil recorded the link (no `spend_id` on a private run) are
/// counted as unlinked, not failed: they cannot be checked, and the summary says how many there are.
struct ModelSpendLinkage {
    private struct Spend {
        let actor: String
        let mechanism: JSONValue?
    }

    private var spends: [Int64: Spend] = [:]
    private var claimed: [Int64: UInt64] = [:]
    private(set) var linked = 0
    private(set) var unlinked = 0

    /// Checks one record; returns the reason when it fails. Records other than spends and train
    /// records pass.
    mutating func check(_ body: AuditBody) -> String? {
        let details = body.details
        if body.action == AuditAction.budgetSpend.rawValue {
            if case .int(let id)? = details["spend_id"] { spends[id] = Spend(actor: body.actor, mechanism: details["mechanism"]) }
            return nil
        }
        guard body.action == AuditAction.modelTrain.rawValue else { return nil }
        let isPrivate = details["private"] != .bool(false)
        guard let link = details["spend_id"] else {
            if isPrivate { unlinked += 1 }
            return nil
        }
        guard isPrivate else { return "a non-private model.train record names spend_id, but a non-private run spends nothing" }
        guard case .int(let id) = link else { return "spend_id of a model.train record must be an integer" }
        guard let spend = spends[id] else {
            return "model.train names spend_id \(id), but no budget.spend record before it has that id"
        }
        if let earlier = claimed[id] {
            return "model.train names spend_id \(id), which the model.train record at seq \(earlier) already names"
        }
        guard spend.actor == body.actor else {
            return "model.train by \(body.actor) names spend_id \(id), which \(spend.actor) paid"
        }
        guard Self.paysFor(details, spend.mechanism) else {
            return "model.train names spend_id \(id), but that spend's mechanism is not the run's (subsampled Gaussian with its sampling_rate, noise_multiplier and steps, composed with its private evaluation's discrete Gaussian and its vocabulary_mechanism, if any)"
        }
        claimed[id] = body.seq
        linked += 1
        return nil
    }

    var summary: LinkageCheck {
        LinkageCheck(
            modelsLinked: linked, modelsUnlinked: unlinked,
            note: unlinked == 0
                ? "every private model.train record names the budget.spend that paid for it (\(linked) checked)"
                : "\(linked) private model.train record(s) linked to their spends; \(unlinked) written before Veil recorded the link cannot be checked")
    }

    /// Whether `mechanism` (a spend's) is what the train record `details` was accounted with: its
    /// DP-SGD steps composed with its evaluation's discrete Gaussian and, exactly when the record names
    /// a `vocabulary_mechanism`, that selection; or the steps alone (older runs).
    private static func paysFor(_ details: [String: JSONValue], _ mechanism: JSONValue?) -> Bool {
        let training: JSONValue = [
            "mechanism": "subsampled_gaussian", "sampling_rate": details["sampling_rate"] ?? .null,
            "noise_multiplier": details["noise_multiplier"] ?? .null, "steps": details["steps"] ?? .null,
        ]
        guard case .object(let spent)? = mechanism, spent["mechanism"] == "composition" else {
            return sameNumbers(mechanism, training)
        }
        let selection = details["vocabulary_mechanism"]
        guard spent.count == 2, case .array(let parts)? = spent["parts"], parts.count == (selection == nil ? 2 : 3),
            sameNumbers(parts[0], training), case .object(let evaluation) = parts[1], evaluation["mechanism"] == "discrete_gaussian"
        else { return false }
        if let selection, !sameNumbers(parts[2], selection) { return false }
        guard let sigma = details["evaluation_noise_sigma"] else { return true }
        return sameNumbers(evaluation["sigma"], sigma)
    }

    /// Equal JSON, with integers and doubles compared as numbers (a log may write 3 or 3.0).
    private static func sameNumbers(_ left: JSONValue?, _ right: JSONValue?) -> Bool {
        switch (left, right) {
        case (.object(let a)?, .object(let b)?):
            return a.keys.sorted() == b.keys.sorted() && a.allSatisfy { sameNumbers($0.value, b[$0.key]) }
        case (.int(let a)?, .double(let b)?), (.double(let b)?, .int(let a)?):
            return Double(a) == b
        default:
            return left == right
        }
    }
}

/// Whether private models' train records were linked to their spends (`ModelSpendLinkage`).
public struct LinkageCheck: Sendable, Hashable, Encodable {
    /// Private `model.train` records whose `spend_id` matched a spend.
    public let modelsLinked: Int
    /// Private `model.train` records without `spend_id` (written before Veil recorded the link).
    public let modelsUnlinked: Int
    public let note: String

    enum CodingKeys: String, CodingKey {
        case note
        case modelsLinked = "models_linked"
        case modelsUnlinked = "models_unlinked"
    }
}
